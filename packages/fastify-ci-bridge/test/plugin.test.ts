// The Fastify plugin: decorator, state, onClose (bounded wait for handlers and sends), nothing left behind.
import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { until } from '@session-gateway/test-kit'
import Fastify from 'fastify'
import fastifyCiBridge, { BridgeError, type BridgeState, type ReceivedMeta } from '../src/index.js'
import {
  BROKER_URL,
  closer,
  dataSection,
  listQueues,
  rawReceiver,
  rawSend,
  runBroadcast,
  sharedBroker,
  uid,
} from './helpers.js'

// The raw connection is opened by the first test that needs it, so the first test can check that
// nothing is left running.
const broker = sharedBroker()
const run = broker.run

/** An app with the plugin, closed when the test ends however it ends. */
function appWith(t: TestContext, options: Record<string, unknown> = {}) {
  const app = closer(t)(Fastify({ logger: false }))
  app.register(fastifyCiBridge, {
    url: BROKER_URL,
    nodeId: `t-plugin-${run}-${uid()}`,
    userManagerAddress: `/queue/t-plugin-um-${run}`,
    broadcastAddress: runBroadcast(run),
    ...options,
  })
  app.get('/readyz', async (_request, reply) => {
    const open = app.ciBridge.state === 'open'
    return reply.code(open ? 200 : 503).send({ state: app.ciBridge.state })
  })
  return app
}

test('registers as fastify-ci-bridge, decorates ciBridge, reports its state', async (t) => {
  const app = appWith(t)
  const states: Array<[BridgeState, BridgeState]> = []
  await app.ready()
  app.ciBridge.on('state', (state, previous) => states.push([state, previous]))
  assert.ok(app.hasDecorator('ciBridge'))
  assert.equal(app.ciBridge.userManagerAddress, `/queue/t-plugin-um-${run}`)
  await app.ciBridge.waitForOpen(10_000)
  assert.equal((await app.inject('/readyz')).statusCode, 200)
  await app.ciBridge.sendToUserManager({ type: 'CLIENT_EVENT', v: 1 })
  await app.close()
  assert.equal(app.ciBridge.state, 'closed')
  assert.deepEqual(states.at(-1), ['closed', 'open'])
  const error = await app.ciBridge.send('/queue/x', { type: 'X' }).then(
    () => assert.fail('closed'),
    (e: unknown) => e,
  )
  assert.ok(error instanceof BridgeError)
  assert.equal(error.code, 'CLOSED')
  await until(() => !process.getActiveResourcesInfo().some((r) => r === 'Timeout' || r === 'TCPSocketWrap'), {
    timeoutMs: 2000,
    what: `no timers or sockets left (${process.getActiveResourcesInfo().join(', ')})`,
  })
})

test('onClose waits for a running handler (its reply still goes out), then settles its message accepted', async (t) => {
  const connection = await broker.raw()
  const replies = `t-plugin-replies-${run}`
  const results = closer(t)(await rawReceiver(connection, `/queue/${replies}`, { durable: false }))
  let started = false
  let finished = false
  const app = appWith(t, {
    onMessage: async (_message: unknown, meta: ReceivedMeta) => {
      started = true
      await new Promise((resolve) => setTimeout(resolve, 300))
      await app.ciBridge.reply(meta, { type: 'RESULT', v: 1, ok: true, data: {} })
      finished = true
    },
  })
  await app.ready()
  await app.ciBridge.waitForOpen(10_000)
  await rawSend(connection, app.ciBridge.nodeReplyTo, {
    body: dataSection({ type: 'PING', v: 1 }),
    message_id: 'close-1',
    reply_to: `/amq/queue/${replies}`,
  })
  await until(() => started, { timeoutMs: 5000, what: 'the handler running' })
  await app.close()
  // Asserted by order, not elapsed time: a poll above resuming late shortens the wait left.
  assert.ok(finished, 'close waited for the handler')
  assert.equal(app.ciBridge.stats.settlements.accepted, 1)
  await until(() => results.received.length === 1, { timeoutMs: 5000, what: 'the reply sent during close' })
  assert.equal(results.received[0]?.message.correlation_id, 'close-1')
})

test('onClose is bounded: a stuck handler does not hold it past closeTimeoutMs; its message stays queued', async (t) => {
  let started = false
  const nodeId = `t-stuck-${run}`
  const app = appWith(t, {
    nodeId,
    closeTimeoutMs: 300,
    onMessage: async () => {
      started = true
      await new Promise(() => {})
    },
  })
  await app.ready()
  await app.ciBridge.waitForOpen(10_000)
  await rawSend(await broker.raw(), app.ciBridge.nodeReplyTo, {
    body: dataSection({ type: 'PING', v: 1 }),
  })
  await until(() => started, { timeoutMs: 5000, what: 'the handler running' })
  const t0 = Date.now()
  await app.close()
  const took = Date.now() - t0
  assert.ok(took >= 280 && took < 2000, `closed after ${took} ms`)
  assert.equal(app.ciBridge.stats.settlements.accepted, 0)
  // Never settled: the broker requeued it for the node's next life.
  let queue = (await listQueues()).find((q) => q.name === `gateway.node.${nodeId}`)
  await until(
    async () => {
      queue = (await listQueues()).find((q) => q.name === `gateway.node.${nodeId}`)
      return queue?.messages === 1
    },
    { timeoutMs: 10_000, what: 'the message back in the queue' },
  ).catch(() => {})
  assert.equal(queue?.messages, 1)
})

test('readiness follows the state: 503 while connecting', async (t) => {
  const app = appWith(t, { url: 'amqp://guest:guest@127.0.0.1:1', closeTimeoutMs: 50 })
  await app.ready()
  const response = await app.inject('/readyz')
  assert.equal(response.statusCode, 503)
  assert.deepEqual(response.json(), { state: 'connecting' })
  await app.close()
})

test('consume(handler) given after registration, before ready: the node address is consumed with it; too late, it throws', async (t) => {
  const received: string[] = []
  const app = appWith(t)
  await app.after()
  app.ciBridge.consume((message) => {
    received.push(message.type)
  })
  assert.throws(() => app.ciBridge.consume(() => {}), /consumes already/)
  await app.ready()
  await app.ciBridge.waitForOpen(10_000)
  await rawSend(await broker.raw(), app.ciBridge.nodeReplyTo, {
    body: dataSection({ type: 'PING', v: 1 }),
  })
  await until(() => received.length === 1, { timeoutMs: 5000, what: 'the message handled' })
  assert.deepEqual(received, ['PING'])
  const late = appWith(t)
  await late.ready()
  assert.throws(() => late.ciBridge.consume(() => {}), /before the bridge starts/)
  await late.close()
  await app.close()
})
