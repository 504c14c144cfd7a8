// Sending against the real RabbitMQ on 127.0.0.1:5672 (unique queue names per run).
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { until } from '@session-gateway/test-kit'
import type { Connection } from 'rhea'
import { BridgeError, createCiBridge, type StandaloneCiBridge } from '../src/index.js'
import { LinkSender } from '../src/sender.js'
import {
  BROKER_URL,
  captureLogger,
  closer,
  listQueues,
  rabbitmqctl,
  rawReceiver,
  runBroadcast,
  sharedBroker,
  uid,
} from './helpers.js'

const broker = sharedBroker()
const run = broker.run
let raw: Connection
let bridge: StandaloneCiBridge
const UM = `/queue/t-send-um-${run}`

before(async () => {
  raw = await broker.raw()
  bridge = broker.keep(
    createCiBridge(
      {
        url: BROKER_URL,
        nodeId: `t-send-${run}`,
        userManagerAddress: UM,
        broadcastAddress: runBroadcast(run),
        onMessage: () => {},
      },
      captureLogger(),
    ),
  )
  await bridge.waitForOpen(10_000)
})

test('send resolves on accepted; body and properties as PROTOCOL.md section 2', async (t) => {
  const queue = `t-send-${run}`
  const receiver = closer(t)(await rawReceiver(raw, `/queue/${queue}`))
  const body = { type: 'EMIT', v: 1, sid: 'a'.repeat(22), event: 'chat.message', data: { text: 'héllo ✓' } }
  await bridge.send(`/queue/${queue}`, body, { replyTo: '/amq/queue/somewhere', correlationId: 'corr-1' })
  await until(() => receiver.received.length === 1, {
    timeoutMs: 5000,
    what: 'the message at the raw receiver',
  })
  const got = receiver.received[0]?.message
  assert.ok(got)
  const section = got.body as { typecode: number; content: Buffer }
  assert.equal(section.typecode, 0x75, 'one data section')
  assert.deepEqual(JSON.parse(section.content.toString('utf8')), body, 'UTF-8 JSON')
  assert.equal(got.content_type, 'application/json')
  assert.equal(got.subject, 'EMIT', 'subject = type')
  assert.match(
    String(got.message_id),
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  )
  assert.equal(got.reply_to, '/amq/queue/somewhere')
  assert.equal(got.correlation_id, 'corr-1')
  assert.notEqual(got.durable, true, 'send() is not durable unless asked')
})

test('message ids are unique unless given, and kept when given', async (t) => {
  const queue = `t-ids-${run}`
  const receiver = closer(t)(await rawReceiver(raw, `/queue/${queue}`))
  await Promise.all([
    bridge.send(`/queue/${queue}`, { type: 'A' }),
    bridge.send(`/queue/${queue}`, { type: 'B' }),
    bridge.send(`/queue/${queue}`, { type: 'C' }, { messageId: 'mine-1', subject: 'custom' }),
  ])
  await until(() => receiver.received.length === 3, { timeoutMs: 5000, what: 'three messages' })
  const ids = receiver.received.map((r) => String(r.message.message_id))
  assert.equal(new Set(ids).size, 3)
  const mine = receiver.received.find((r) => r.message.message_id === 'mine-1')
  assert.equal(mine?.message.subject, 'custom')
})

test('sendToUserManager: durable message, reply_to = nodeReplyTo, into the durable User Manager queue', async (t) => {
  const before = bridge.stats.accepted
  await bridge.sendToUserManager({ type: 'CLIENT_EVENT', v: 1 })
  assert.equal(bridge.stats.accepted, before + 1)
  const queue = (await listQueues()).find((q) => q.name === `t-send-um-${run}`)
  assert.ok(queue, 'the UM queue exists (declared before the bridge reported open)')
  assert.equal(queue.durable, true)
  const receiver = closer(t)(await rawReceiver(raw, `/amq/queue/t-send-um-${run}`))
  await until(() => receiver.received.length >= 1, { timeoutMs: 5000, what: 'the UM message' })
  const got = receiver.received[0]?.message
  assert.equal(got?.durable, true)
  assert.equal(got?.reply_to, bridge.nodeReplyTo)
  assert.equal(bridge.nodeReplyTo, `/amq/queue/gateway.node.t-send-${run}`)
})

test('a body that is not a plain JSON object is refused before anything is sent', async () => {
  await assert.rejects(bridge.send(`/queue/t-x-${run}`, [1, 2] as unknown as object), TypeError)
  const circular: Record<string, unknown> = {}
  circular.self = circular
  await assert.rejects(bridge.send(`/queue/t-x-${run}`, circular), TypeError)
})

test('a bad address rejects with REJECTED and takes no other link down', async (t) => {
  const logger = captureLogger()
  const handled: string[] = []
  const id = uid()
  const other = closer(t)(
    createCiBridge(
      {
        url: BROKER_URL,
        nodeId: `t-bad-${run}-${id}`,
        userManagerAddress: UM,
        broadcastAddress: runBroadcast(run),
        onMessage: (message) => {
          handled.push(message.type)
        },
      },
      logger,
    ),
  )
  await other.waitForOpen(10_000)
  // Not a RabbitMQ address at all: the broker ends the sender's session (amqp:invalid-field).
  const bad = await other.send('no/such/kind', { type: 'X' }).then(
    () => assert.fail('should be rejected'),
    (e: unknown) => e,
  )
  assert.ok(bad instanceof BridgeError)
  assert.equal(bad.code, 'REJECTED')
  assert.equal(bad.condition, 'amqp:invalid-field')
  // A queue that does not exist, as a receiver: amqp:not-found ends that receiver's session only.
  const refused = await other
    .subscribe(`/amq/queue/t-missing-${run}`, {
      decode: () => ({ ok: true, message: {} }),
      handler: () => {},
    })
    .then(
      () => assert.fail('should be refused'),
      (e: unknown) => e,
    )
  assert.ok(refused instanceof BridgeError)
  assert.equal(refused.code, 'REJECTED')
  assert.equal(refused.condition, 'amqp:not-found')
  // Durability mismatch on an existing queue: amqp:precondition-failed, again only that link.
  const mismatch = await other
    .subscribe(UM, { decode: () => ({ ok: true, message: {} }), handler: () => {}, durable: false })
    .then(
      () => assert.fail('should be refused'),
      (e: unknown) => e,
    )
  assert.equal((mismatch as BridgeError).condition, 'amqp:precondition-failed')

  // /temp-queue/ would get no answer and then cost the whole connection: refused without trying.
  const temp = await other.send('/temp-queue/x', { type: 'X' }).then(
    () => assert.fail('should be refused'),
    (e: unknown) => e,
  )
  assert.equal((temp as BridgeError).code, 'REJECTED')
  assert.equal((temp as BridgeError).condition, 'amqp:not-implemented')
  await assert.rejects(
    other.subscribe('/temp-topic/x', { decode: () => ({ ok: true, message: {} }), handler: () => {} }),
    { code: 'REJECTED' },
  )

  // Everything else still works: the state, the UM sender, the node receiver.
  assert.equal(other.state, 'open')
  await other.sendToUserManager({ type: 'CLIENT_EVENT', v: 1 })
  await bridge.send(other.nodeReplyTo, { type: 'PING', v: 1 })
  await until(() => handled.length === 1, { timeoutMs: 5000, what: 'the PING at the node receiver' })
  assert.deepEqual(handled, ['PING'])
  assert.equal(other.stats.reconnects, 0, 'the connection never dropped')
  assert.ok(logger.entries.some((e) => e.level === 'warn' && e.obj.address === 'no/such/kind'))
})

test('outbox bound: with the broker away, sends past the bound reject at once with UNAVAILABLE, unless they bypass it', async (t) => {
  // Nothing listens on port 1: the bridge keeps trying to connect, messages wait in the outbox.
  const away = closer(t)(
    createCiBridge({
      url: 'amqp://guest:guest@127.0.0.1:1',
      nodeId: `t-outbox-${run}`,
      outboxLimit: 5,
      closeTimeoutMs: 100,
    }),
  )
  assert.equal(away.state, 'connecting')
  const waiting = Array.from({ length: 5 }, (_, i) => away.send('/queue/anything', { type: 'X', i }))
  for (const p of waiting) p.catch(() => {})
  assert.equal(away.stats.outboxDepth, 5)
  // At once: settled before the event loop's next turn (setImmediate), so no timer (the send
  // timeout) and no I/O took part in the refusal.
  let refusal: unknown
  away.send('/queue/anything', { type: 'X' }).then(
    () => assert.fail('should be refused'),
    (e: unknown) => {
      refusal = e
    },
  )
  await new Promise((resolve) => setImmediate(resolve))
  const error = refusal
  assert.ok(error !== undefined, 'refused at once')
  assert.ok(error instanceof BridgeError)
  assert.equal(error.code, 'UNAVAILABLE')
  // bypassOutboxLimit: kept past the bound (and counted, so bounded sends stay refused).
  const kept = away.send('/queue/anything', { type: 'X' }, { bypassOutboxLimit: true })
  waiting.push(kept)
  kept.catch(() => {})
  assert.equal(away.stats.outboxDepth, 6)
  await assert.rejects(away.send('/queue/anything', { type: 'X' }), { code: 'UNAVAILABLE' })
  await away.close()
  const outcomes = await Promise.allSettled(waiting)
  for (const outcome of outcomes) {
    assert.equal(outcome.status, 'rejected')
    assert.equal((outcome.reason as BridgeError).code, 'CLOSED')
  }
  assert.equal(away.state, 'closed')
})

test('a message that cannot be queued is rejected UNAVAILABLE and leaves nothing in the outbox', async (t) => {
  const away = closer(t)(
    createCiBridge({
      url: 'amqp://guest:guest@127.0.0.1:1',
      nodeId: `t-enqueue-${run}`,
      closeTimeoutMs: 100,
    }),
  )
  // The failure no sender has today, forced: enqueue throws after the outbox took the message.
  t.mock.method(LinkSender.prototype, 'enqueue', () => {
    throw new Error('sender broken')
  })
  await assert.rejects(away.sendToUserManager({ type: 'X', v: 1 }), {
    code: 'UNAVAILABLE',
    message: 'could not queue the message: sender broken',
  })
  assert.equal(away.stats.outboxDepth, 0)
})

test('a vhost in the URL path selects the RabbitMQ virtual host', async (t) => {
  const vhost = `t-vhost-${run}`
  await rabbitmqctl(['add_vhost', vhost])
  t.after(() => rabbitmqctl(['delete_vhost', vhost]))
  await rabbitmqctl(['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'])
  const inVhost = closer(t)(
    createCiBridge({
      url: `amqp://guest:guest@127.0.0.1:5672/${vhost}`,
      nodeId: `t-vhost-${run}`,
      userManagerAddress: `/queue/t-vhost-um-${run}`,
    }),
  )
  await inVhost.waitForOpen(10_000)
  await inVhost.sendToUserManager({ type: 'CLIENT_EVENT', v: 1 })
  await inVhost.close()
  const queues = await rabbitmqctl(['list_queues', '-p', vhost, 'name', 'messages', '--no-table-headers'])
  assert.match(queues, new RegExp(`t-vhost-um-${run}\\s+1`))
  assert.ok(!(await listQueues()).some((q) => q.name === `t-vhost-um-${run}`), 'not in the default vhost')
})
