// Zero loss across broker faults, on the PRIVATE node of scripts/private-rabbitmq.sh (never 5672).
import assert from 'node:assert/strict'
import { after, before, describe, type TestContext, test } from 'node:test'
import type { AmqpDecodeResult } from '@session-gateway/message-schema'
import { until } from '@session-gateway/test-kit'
import { type BridgeState, createCiBridge } from '../src/index.js'
import {
  captureLogger,
  deleteQueuesContaining,
  listQueues,
  privateNode,
  privateNodeName,
  uid,
} from './helpers.js'

const anyObject = (body: unknown): AmqpDecodeResult<Record<string, unknown>> => {
  const text = body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : body
  const value = typeof text === 'string' ? JSON.parse(text) : text
  return { ok: true, message: value as Record<string, unknown> }
}

let url = ''
let node = ''

before(async () => {
  await privateNode('start')
  url = await privateNode('url')
  node = await privateNodeName()
})

after(async () => {
  await privateNode('destroy')
})

async function streamThroughFault(t: TestContext, fault: 'stop_app' | 'kill'): Promise<void> {
  const diagnostic = (text: string) => t.diagnostic(text)
  const id = uid()
  const queue = `/queue/zl-${fault}-${id}`
  const producerLog = captureLogger()
  const producer = createCiBridge(
    {
      url,
      nodeId: `zl-p-${id}`,
      userManagerAddress: queue,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
      sendTimeoutMs: 60_000,
    },
    producerLog,
  )
  const consumer = createCiBridge({
    url,
    nodeId: `zl-c-${id}`,
    userManagerAddress: queue,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
  })
  const states: BridgeState[] = []
  producer.on('state', (state) => states.push(state))
  const seen = new Set<string>()
  let deliveries = 0
  t.after(async () => {
    await consumer.close()
    await producer.close()
    await deleteQueuesContaining(id, node)
  })
  await producer.waitForOpen(10_000)
  await consumer.waitForOpen(10_000)
  await consumer.subscribe(queue, {
    decode: anyObject,
    handler: (_message, meta) => {
      deliveries += 1
      if (meta.messageId) seen.add(meta.messageId)
    },
  })

  const accepted: string[] = []
  const failed: unknown[] = []
  const pending: Promise<void>[] = []
  let stop = false
  let n = 0
  const stream = (async () => {
    while (!stop) {
      const messageId = `${id}-${n}`
      const i = n++
      pending.push(
        producer.sendToUserManager({ type: 'CLIENT_EVENT', i }, { messageId }).then(
          () => {
            accepted.push(messageId)
          },
          (error: unknown) => {
            failed.push(error)
          },
        ),
      )
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  })()

  await until(() => accepted.length >= 200, { timeoutMs: 10_000, what: '200 accepted before the fault' })
  if (fault === 'stop_app') await privateNode('stop_app')
  else await privateNode('kill')
  await until(() => producer.state === 'reconnecting', { timeoutMs: 10_000, what: 'state reconnecting' })
  const sentDuringOutage = n
  if (fault === 'stop_app') await privateNode('start_app')
  else await privateNode('start')
  await producer.waitForOpen(30_000)
  const acceptedAtRecovery = accepted.length
  await until(() => accepted.length >= acceptedAtRecovery + 200, {
    timeoutMs: 20_000,
    what: '200 more accepted after recovery',
  })
  stop = true
  await stream
  await Promise.all(pending)

  assert.deepEqual(failed, [], 'no send failed')
  assert.equal(accepted.length, n, 'every send resolved')
  assert.ok(n > sentDuringOutage, 'the stream went on after the fault')
  await until(() => accepted.every((messageId) => seen.has(messageId)), {
    timeoutMs: 30_000,
    what: 'every accepted message received',
  })
  const missing = accepted.filter((messageId) => !seen.has(messageId))
  assert.deepEqual(missing, [], 'no accepted message lost')
  const reconnecting = states.indexOf('reconnecting')
  assert.ok(reconnecting >= 0, `states: ${states.join(' -> ')}`)
  assert.ok(states.indexOf('open', reconnecting) > reconnecting, `states: ${states.join(' -> ')}`)
  assert.ok(producer.stats.reconnects >= 1)
  assert.equal(producer.stats.accepted, n)
  if (process.env.CI_BRIDGE_TEST_DEBUG) {
    for (const e of producerLog.entries)
      if (e.level !== 'debug') diagnostic(`${e.level} ${e.msg} ${JSON.stringify(e.obj)}`)
  }
  diagnostic(
    `${n} sent, ${n - sentDuringOutage} after the fault began, ${producer.stats.resent} resent, ` +
      `${deliveries - seen.size} duplicate deliveries, states ${states.join(' -> ')}`,
  )
  // Duplicates (a resend of a message the broker had taken) are possible, never losses.
  assert.ok(deliveries >= accepted.length)
}

describe('no queue left behind (private node, expires policy at 1 s)', () => {
  test('node, broadcast and reply queues go once the bridge is closed and the policy has run', async (t) => {
    const id = uid()
    const before = new Set((await listQueues(node)).map((q) => q.name))
    const bridge = createCiBridge({
      url,
      nodeId: `t-expiry-${id}`,
      userManagerAddress: `/queue/t-expiry-um-${id}`,
      onMessage: async (_message, meta) => {
        await bridge.reply(meta, { type: 'RESULT', v: 1, ok: true, data: {} })
      },
    })
    let ours: string[] = []
    t.after(() => bridge.close())
    await bridge.waitForOpen(10_000)
    await bridge.request(bridge.nodeReplyTo, { type: 'PING', v: 1 })
    ours = (await listQueues(node))
      .map((q) => q.name)
      .filter((name) => !before.has(name) && !name.startsWith('t-'))
    assert.ok(ours.includes(`gateway.node.t-expiry-${id}`), ours.join(', '))
    assert.ok(
      ours.some((name) => name.startsWith(`gateway.node.t-expiry-${id}.reply.`)),
      ours.join(', '),
    )
    assert.ok(
      ours.some((name) => name.startsWith('amq.gen-')),
      `the broadcast queue: ${ours.join(', ')}`,
    )
    assert.equal(ours.length, 3)
    // Closed here, before the checks of what closing leaves (t.after closes it too when a check above fails).
    await bridge.close()
    let left = ours
    await until(
      async () => {
        const names = new Set((await listQueues(node)).map((q) => q.name))
        left = ours.filter((name) => names.has(name))
        return left.length === 0
      },
      { timeoutMs: 30_000, what: 'the expires policy' },
    ).catch(() => {})
    assert.deepEqual(left, [], 'every queue of the node expired')
    await deleteQueuesContaining(id, node)
  })
})

describe('zero loss across broker faults (private node)', () => {
  test('stop_app + start_app under a steady stream: every accepted send is received', async (t) => {
    await streamThroughFault(t, 'stop_app')
  })

  test('kill -9 + restart under a steady stream: every accepted send is received', async (t) => {
    await streamThroughFault(t, 'kill')
  })
})
