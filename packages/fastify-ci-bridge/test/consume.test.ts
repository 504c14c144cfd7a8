// Consuming against the real RabbitMQ on 127.0.0.1:5672 (unique queue names per run).
import assert from 'node:assert/strict'
import { before, test } from 'node:test'
import { type CiMessage, decodeResult } from '@session-gateway/message-schema'
import { until } from '@session-gateway/test-kit'
import type { Connection, Message } from 'rhea'
import { createCiBridge, type ReceivedMeta } from '../src/index.js'
import {
  BROKER_URL,
  captureLogger,
  dataSection,
  deleteBroadcastQueues,
  rabbitmqctl,
  rawReceiver,
  rawSend,
  runBroadcast,
  sharedBroker,
  uid,
} from './helpers.js'

const broker = sharedBroker()
const run = broker.run
let raw: Connection

before(async () => {
  raw = await broker.raw()
})

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

async function unacked(queue: string): Promise<{ ready: number; unacked: number }> {
  const out = await rabbitmqctl([
    'list_queues',
    'name',
    'messages_ready',
    'messages_unacknowledged',
    '--no-table-headers',
  ])
  for (const line of out.split('\n')) {
    const [name, ready, unack] = line.trim().split(/\s+/)
    if (name === queue) return { ready: Number(ready), unacked: Number(unack) }
  }
  throw new Error(`queue ${queue} not found`)
}

test('consume: the handler gets the typed message and its metadata; accepted only after it resolves', async (t) => {
  const id = uid()
  const gate = deferred()
  const got: Array<[CiMessage, ReceivedMeta]> = []
  const bridge = createCiBridge({
    url: BROKER_URL,
    nodeId: `t-consume-${run}-${id}`,
    userManagerAddress: `/queue/t-um-${run}`,
    broadcastAddress: runBroadcast(run),
    onMessage: async (message, meta) => {
      got.push([message, meta])
      await gate.promise
    },
  })
  t.after(() => bridge.close())
  await bridge.waitForOpen(10_000)
  const outcome = await rawSend(raw, bridge.nodeReplyTo, {
    body: dataSection({ type: 'PING', v: 1 }),
    message_id: 'ping-1',
    correlation_id: 'c-1',
    reply_to: `/amq/queue/t-nowhere-${run}`,
    subject: 'PING',
  })
  assert.equal(outcome, 'accepted', 'the broker took it')
  await until(() => got.length === 1, { timeoutMs: 5000, what: 'the handler called' })
  assert.deepEqual(got[0]?.[0], { type: 'PING', v: 1 })
  assert.deepEqual(got[0]?.[1], {
    source: 'node',
    messageId: 'ping-1',
    correlationId: 'c-1',
    amqpMessageId: { type: 'string', value: 'ping-1' },
    amqpCorrelationId: { type: 'string', value: 'c-1' },
    replyTo: `/amq/queue/t-nowhere-${run}`,
    subject: 'PING',
  })
  // While the handler runs, the message is unsettled: unacknowledged at the broker.
  const queue = `gateway.node.t-consume-${run}-${id}`
  assert.deepEqual(await unacked(queue), { ready: 0, unacked: 1 })
  assert.equal(bridge.stats.settlements.accepted, 0)
  gate.resolve()
  await until(() => bridge.stats.settlements.accepted === 1, { timeoutMs: 5000, what: 'settled accepted' })
  // The broker sees the disposition a moment later: poll it (rabbitmqctl takes ~0.5 s a call).
  let atBroker = await unacked(queue)
  await until(
    async () => {
      atBroker = await unacked(queue)
      return atBroker.unacked === 0
    },
    { timeoutMs: 10_000, what: 'the broker to see the message settled' },
  ).catch(() => {})
  assert.deepEqual(atBroker, { ready: 0, unacked: 0 })
  assert.deepEqual(bridge.stats.receivedByType, { PING: 1 })
})

test('amqp-value bodies (a JSON string, a map) are accepted too', async (t) => {
  const got: CiMessage[] = []
  const bridge = createCiBridge({
    url: BROKER_URL,
    nodeId: `t-value-${run}`,
    userManagerAddress: `/queue/t-um-${run}`,
    broadcastAddress: runBroadcast(run),
    onMessage: (message) => {
      got.push(message)
    },
  })
  t.after(() => bridge.close())
  await bridge.waitForOpen(10_000)
  await rawSend(raw, bridge.nodeReplyTo, { body: '{"type":"PING","v":1}' })
  await rawSend(raw, bridge.nodeReplyTo, { body: { type: 'BROADCAST', v: 1, event: 'news' } })
  await until(() => got.length === 2, { timeoutMs: 5000, what: 'two messages' })
  assert.deepEqual(got, [
    { type: 'PING', v: 1 },
    { type: 'BROADCAST', v: 1, event: 'news' },
  ])
})

test('undecodable, invalid and unknown-type messages: RESULT error to reply_to, rejected (dead-lettered), logged; the consumer keeps working', async (t) => {
  const id = uid()
  const nodeId = `t-invalid-${run}-${id}`
  const dlq = `t-dlq-${run}`
  const replies = `t-replies-${run}`
  const logger = captureLogger()
  const handled: CiMessage[] = []
  // A dead-letter policy on this node's queue shows the `rejected` outcome at the broker.
  await rabbitmqctl([
    'set_policy',
    `t-dlx-${run}`,
    `^gateway\\.node\\.${nodeId}$`,
    JSON.stringify({ 'dead-letter-exchange': '', 'dead-letter-routing-key': dlq }),
    '--apply-to',
    'queues',
    '--priority',
    '10',
  ])
  const dead = await rawReceiver(raw, `/queue/${dlq}`)
  const results = await rawReceiver(raw, `/queue/${replies}`)
  const bridge = createCiBridge(
    {
      url: BROKER_URL,
      nodeId,
      userManagerAddress: `/queue/t-um-${run}`,
      broadcastAddress: runBroadcast(run),
      onMessage: (message) => {
        handled.push(message)
      },
    },
    logger,
  )
  t.after(async () => {
    await bridge.close()
    dead.close()
    results.close()
    await rabbitmqctl(['clear_policy', `t-dlx-${run}`])
  })
  await bridge.waitForOpen(10_000)
  const replyTo = `/amq/queue/${replies}`
  await rawSend(raw, bridge.nodeReplyTo, {
    body: dataSection('{"type": "PING", '),
    message_id: 'bad-json',
    reply_to: replyTo,
  })
  await rawSend(raw, bridge.nodeReplyTo, {
    body: dataSection({ type: 'EMIT', v: 1, event: 'x' }),
    message_id: 'no-sid',
    reply_to: replyTo,
  })
  await rawSend(raw, bridge.nodeReplyTo, {
    body: dataSection({ type: 'NOPE', v: 1 }),
    message_id: 'nope',
    reply_to: replyTo,
  })
  await rawSend(raw, bridge.nodeReplyTo, {
    body: dataSection({ type: 'PING', v: 2 }),
    correlation_id: 'v2-corr',
    reply_to: replyTo,
  })
  await rawSend(raw, bridge.nodeReplyTo, { body: Buffer.from([0xff, 0xfe]), message_id: 'binary-value' })
  await rawSend(raw, bridge.nodeReplyTo, { body: dataSection({ type: 'PING', v: 1 }), message_id: 'fine' })

  await until(() => handled.length === 1, {
    timeoutMs: 5000,
    what: 'the valid message handled after the bad ones',
  })
  await until(() => results.received.length === 4, { timeoutMs: 5000, what: 'four RESULT errors' })
  await until(() => dead.received.length === 5, { timeoutMs: 5000, what: 'five dead-lettered messages' })

  const byCorrelation = new Map(
    results.received.map((r) => [String(r.message.correlation_id), decodeResult(bodyBytes(r.message))]),
  )
  const codeOf = (key: string) => {
    const result = byCorrelation.get(key)
    assert.ok(result?.ok, `a valid RESULT for ${key}`)
    assert.equal(result.message.ok, false)
    return result.message.ok === false ? result.message.error.code : ''
  }
  assert.equal(codeOf('bad-json'), 'INVALID')
  assert.equal(codeOf('no-sid'), 'INVALID')
  assert.equal(codeOf('nope'), 'UNKNOWN_TYPE')
  assert.equal(
    codeOf('v2-corr'),
    'INVALID',
    'correlation_id = the correlation_id when there is no message_id',
  )
  for (const r of results.received) assert.equal(r.message.subject, 'RESULT')

  assert.deepEqual(handled, [{ type: 'PING', v: 1 }])
  const stats = bridge.stats
  assert.equal(stats.settlements.rejected, 5)
  assert.equal(stats.settlements.accepted, 1)
  assert.equal(stats.receivedInvalid, 5)
  const warned = logger.entries.filter((e) => e.level === 'warn' && e.msg === 'amqp: message rejected')
  assert.equal(warned.length, 5)
  const nope = warned.find((e) => e.obj.messageId === 'nope')
  assert.equal(nope?.obj.type, 'NOPE')
  assert.equal(nope?.obj.code, 'UNKNOWN_TYPE')
})

function bodyBytes(message: Message): Uint8Array {
  return (message.body as { content: Buffer }).content
}

test('a handler that throws: rejected (amqp:internal-error) with a RESULT error INTERNAL; the next message is handled', async (t) => {
  const replies = `t-replies2-${run}`
  const results = await rawReceiver(raw, `/queue/${replies}`)
  const handled: string[] = []
  const bridge = createCiBridge(
    {
      url: BROKER_URL,
      nodeId: `t-throw-${run}`,
      userManagerAddress: `/queue/t-um-${run}`,
      broadcastAddress: runBroadcast(run),
      onMessage: (message) => {
        if (message.type === 'JOIN') throw new Error('room service down')
        handled.push(message.type)
      },
    },
    captureLogger(),
  )
  t.after(async () => {
    await bridge.close()
    results.close()
  })
  await bridge.waitForOpen(10_000)
  await rawSend(raw, bridge.nodeReplyTo, {
    body: dataSection({ type: 'JOIN', v: 1, sid: 'b'.repeat(22), room: 'r' }),
    message_id: 'join-1',
    reply_to: `/amq/queue/${replies}`,
  })
  await rawSend(raw, bridge.nodeReplyTo, { body: dataSection({ type: 'PING', v: 1 }) })
  // The JOIN is settled after its RESULT is sent: wait for both settlements, not only the RESULT.
  await until(
    () =>
      handled.length === 1 &&
      results.received.length === 1 &&
      bridge.stats.settlements.accepted + bridge.stats.settlements.rejected === 2,
    { timeoutMs: 5000, what: 'PING handled, RESULT sent, both settled' },
  )
  const result = decodeResult(bodyBytes(results.received[0]?.message as Message))
  assert.ok(result.ok && result.message.ok === false)
  assert.equal(result.message.ok === false && result.message.error.code, 'INTERNAL')
  assert.equal(results.received[0]?.message.correlation_id, 'join-1')
  assert.deepEqual(bridge.stats.settlements, { accepted: 1, rejected: 1, released: 0 })
})

test('duplicates by message_id are settled accepted without running the handler again', async (t) => {
  const handled: string[] = []
  const bridge = createCiBridge({
    url: BROKER_URL,
    nodeId: `t-dup-${run}`,
    userManagerAddress: `/queue/t-um-${run}`,
    broadcastAddress: runBroadcast(run),
    onMessage: (_message, meta) => {
      handled.push(meta.messageId ?? '')
    },
  })
  t.after(() => bridge.close())
  await bridge.waitForOpen(10_000)
  for (const messageId of ['d-1', 'd-1', 'd-2', 'd-1']) {
    await rawSend(raw, bridge.nodeReplyTo, {
      body: dataSection({ type: 'PING', v: 1 }),
      message_id: messageId,
    })
  }
  await until(() => bridge.stats.settlements.accepted === 4, { timeoutMs: 5000, what: 'four settled' })
  assert.deepEqual(handled, ['d-1', 'd-2'])
  assert.equal(bridge.stats.duplicatesDropped, 2)
})

test('credit bound: a slow handler never has more than `credit` messages outstanding', async (t) => {
  const queue = `t-credit-${run}`
  const credit = 5
  const total = 60
  let running = 0
  let maxRunning = 0
  let done = 0
  const brokerSamples: number[] = []
  const bridge = createCiBridge({
    url: BROKER_URL,
    nodeId: `t-credit-${run}`,
    userManagerAddress: `/queue/t-um-${run}`,
  })
  t.after(() => bridge.close())
  await bridge.waitForOpen(10_000)
  // Fill the queue first, so the broker could push everything at once if credit let it.
  await Promise.all(
    Array.from({ length: total }, (_, i) =>
      bridge.send(`/queue/${queue}`, { type: 'CLIENT_EVENT', v: 1, i }, { durable: false }),
    ),
  )
  const sub = await bridge.subscribe(`/queue/${queue}`, {
    decode: (body) => ({ ok: true, message: JSON.parse(Buffer.from(body as Uint8Array).toString('utf8')) }),
    credit,
    handler: async () => {
      running += 1
      maxRunning = Math.max(maxRunning, running)
      await new Promise((resolve) => setTimeout(resolve, 100))
      running -= 1
      done += 1
    },
  })
  // Sample the broker's unacknowledged count while the handlers work through the queue.
  await until(
    async () => {
      brokerSamples.push((await unacked(queue)).unacked)
      return done >= total - credit
    },
    { timeoutMs: 20_000, what: 'all but the last credit of messages handled' },
  )
  await until(() => done >= total, { timeoutMs: 20_000, what: 'every message handled' })
  await sub.close()
  assert.ok(maxRunning <= credit, `at most ${credit} handlers at once (saw ${maxRunning})`)
  assert.ok(maxRunning >= 2, `and more than one at a time (saw ${maxRunning})`)
  assert.ok(brokerSamples.length >= 1)
  assert.ok(
    brokerSamples.every((u) => u <= credit),
    `at most ${credit} unacknowledged at the broker (saw ${brokerSamples.join(',')})`,
  )
})

test('broadcast: every node receives a message sent to the broadcast address (source "broadcast")', async (t) => {
  const broadcastAddress = runBroadcast(`${run}b`)
  const seen: Array<[string, string]> = []
  const make = (name: string) =>
    createCiBridge({
      url: BROKER_URL,
      nodeId: `t-bcast-${name}-${run}`,
      userManagerAddress: `/queue/t-um-${run}`,
      broadcastAddress,
      onMessage: (message, meta) => {
        seen.push([name, `${message.type}/${meta.source}`])
      },
    })
  const a = make('a')
  const b = make('b')
  t.after(() => Promise.all([a.close(), b.close()]))
  await Promise.all([a.waitForOpen(10_000), b.waitForOpen(10_000)])
  await a.send(broadcastAddress, { type: 'BROADCAST', v: 1, event: 'hello' })
  await until(() => seen.length === 2, { timeoutMs: 5000, what: 'both nodes got it' })
  assert.deepEqual(seen.sort(), [
    ['a', 'BROADCAST/broadcast'],
    ['b', 'BROADCAST/broadcast'],
  ])
  // Closed here, before the checks of what closing leaves (t.after closes it too when a check above fails).
  await Promise.all([a.close(), b.close()])
  // The server-named queues behind /topic receivers outlive their link (docs/RABBITMQ.md, "Addresses"): the
  // expires policy removes them in production; here ours are deleted (and counted: one per node).
  assert.equal((await deleteBroadcastQueues(`${run}b`)).length, 2)
})
