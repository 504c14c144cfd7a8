// request() / reply() against the real RabbitMQ on 127.0.0.1:5672.
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { before, test } from 'node:test'
import { decodeResult, resultOk } from '@session-gateway/message-schema'
import { BridgeError, createCiBridge, type StandaloneCiBridge } from '../src/index.js'
import { BROKER_URL, listQueues, runBroadcast, sharedBroker } from './helpers.js'

const broker = sharedBroker()
const run = broker.run
let gateway: StandaloneCiBridge
let ci: StandaloneCiBridge

before(async () => {
  // A "gateway" node that answers PING with a RESULT through reply(), like the real dispatcher.
  gateway = broker.keep(
    createCiBridge({
      url: BROKER_URL,
      nodeId: `t-rr-gw-${run}`,
      userManagerAddress: `/queue/t-rr-um-${run}`,
      broadcastAddress: runBroadcast(run),
      onMessage: async (message, meta) => {
        if (message.type === 'PING')
          await gateway.reply(meta, resultOk({ node: gateway.nodeId, sessions: 0, uptimeMs: 1 }))
      },
    }),
  )
  // The CI side: only requests.
  ci = broker.keep(
    createCiBridge({
      url: BROKER_URL,
      nodeId: `t-rr-ci-${run}`,
      userManagerAddress: `/queue/t-rr-um-${run}`,
    }),
  )
  await Promise.all([gateway.waitForOpen(10_000), ci.waitForOpen(10_000)])
})

test('request/reply round trip: RESULT correlated by message id', async () => {
  const { body, meta } = await ci.request(gateway.nodeReplyTo, { type: 'PING', v: 1 }, { messageId: 'req-1' })
  const result = decodeResult(body)
  assert.ok(result.ok, JSON.stringify(body))
  assert.deepEqual(result.message, resultOk({ node: gateway.nodeId, sessions: 0, uptimeMs: 1 }))
  assert.equal(meta.correlationId, 'req-1')
  assert.equal(meta.subject, 'RESULT')
})

test('many requests in flight each get their own reply', async () => {
  const replies = await Promise.all(
    Array.from({ length: 50 }, () => ci.request(gateway.nodeReplyTo, { type: 'PING', v: 1 })),
  )
  const correlations = new Set(replies.map((r) => r.meta.correlationId))
  assert.equal(correlations.size, 50)
  for (const reply of replies) assert.ok(decodeResult(reply.body).ok)
})

test('an invalid request is answered with a RESULT error by the gateway bridge itself', async () => {
  const { body } = await ci.request(gateway.nodeReplyTo, { type: 'EMIT', v: 1 })
  const result = decodeResult(body)
  assert.ok(result.ok && result.message.ok === false)
  assert.equal(result.message.ok === false && result.message.error.code, 'INVALID')
})

test('request timeout: TIMEOUT when nobody answers', async () => {
  const started = Date.now()
  const error = await ci
    .request(`/queue/t-rr-silent-${run}`, { type: 'PING', v: 1 }, { timeoutMs: 300 })
    .then(
      () => assert.fail('no reply expected'),
      (e: unknown) => e,
    )
  assert.ok(error instanceof BridgeError)
  assert.equal(error.code, 'TIMEOUT')
  const elapsed = Date.now() - started
  assert.ok(elapsed >= 290 && elapsed < 3000, `after ${elapsed} ms`)
})

test('reply() without reply_to resolves without sending anything', async () => {
  const sent = gateway.stats.sent
  await gateway.reply({ source: 'node', messageId: 'x' }, resultOk({}))
  assert.equal(gateway.stats.sent, sent)
})

test("the reply queue is this bridge instance's own, named for the expiry policy", async () => {
  const queues = await listQueues()
  const reply = queues.find((q) => q.name.startsWith(`gateway.node.t-rr-ci-${run}.reply.`))
  assert.ok(reply, 'gateway.node.<nodeId>.reply.<instance> exists')
  assert.equal(reply.consumers, 1)
})

test('no Nagle delay: the bridge turns TCP_NODELAY on for its broker connection (Nagle would add ~40 ms a hop)', async (t) => {
  // The behaviour, not a latency threshold (which flakes on a shared machine): the socket to the
  // broker gets setNoDelay(true). The latency itself is measured by bench/ (B2, "latency p50, 1 in
  // flight", against a bare rhea baseline; docs/PERFORMANCE.md).
  const original = Socket.prototype.setNoDelay
  const noDelay = new Map<Socket, boolean>()
  t.mock.method(Socket.prototype, 'setNoDelay', function (this: Socket, on?: boolean) {
    noDelay.set(this, on !== false)
    return original.call(this, on)
  })
  const bridge = createCiBridge({ url: BROKER_URL, nodeId: `t-rr-nodelay-${run}` })
  t.after(() => bridge.close())
  await bridge.waitForOpen(10_000)
  const toBroker = [...noDelay].filter(
    ([socket]) => socket.remotePort === Number(new URL(BROKER_URL).port || 5672),
  )
  assert.deepEqual(
    toBroker.map(([, on]) => on),
    [true],
    'one socket to the broker, with TCP_NODELAY on',
  )
})
