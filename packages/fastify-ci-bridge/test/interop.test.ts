// Interop with an independent AMQP 1.0 implementation: Debian's python3-qpid-proton, through RabbitMQ.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type CiMessage, decodeResult, resultOk } from '@session-gateway/message-schema'
import type { Connection } from 'rhea'
import { createCiBridge, type ReceivedMeta, type StandaloneCiBridge } from '../src/index.js'
import {
  BROKER_URL,
  deleteBroadcastQueues,
  deleteQueuesContaining,
  listQueues,
  rawClose,
  rawConnect,
  rawReceiver,
  runBroadcast,
  uid,
  waitFor,
} from './helpers.js'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3' // Debian's modules; the first python3 on PATH may not see them
const script = (name: string) => fileURLToPath(new URL(`./interop/${name}`, import.meta.url))

const id = uid()
let bridge: StandaloneCiBridge
let raw: Connection
const handled: Array<[CiMessage, ReceivedMeta]> = []

interface ProtonMessage {
  body: unknown
  inferred: boolean
  content_type: string | null
  subject: string | null
  id: string | null
  correlation_id: string | null
  reply_to: string | null
  durable: boolean
}

async function protonSend(address: string, spec: Record<string, unknown>): Promise<string> {
  const { stdout } = await run(
    PYTHON,
    [script('proton_send.py'), BROKER_URL, address, JSON.stringify(spec)],
    {
      timeout: 30_000,
    },
  )
  return (JSON.parse(stdout) as { outcome: string }).outcome
}

async function protonReceive(address: string, count: number): Promise<ProtonMessage[]> {
  const { stdout } = await run(PYTHON, [script('proton_receive.py'), BROKER_URL, address, String(count)], {
    timeout: 30_000,
  })
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ProtonMessage)
}

before(async () => {
  raw = await rawConnect()
  bridge = createCiBridge({
    url: BROKER_URL,
    nodeId: `t-interop-${id}`,
    userManagerAddress: `/queue/t-interop-um-${id}`,
    broadcastAddress: runBroadcast(id),
    onMessage: async (message, meta) => {
      handled.push([message, meta])
      await bridge.reply(meta, resultOk({ seen: message.type }))
    },
  })
  await bridge.waitForOpen(10_000)
})

after(async () => {
  await bridge.close()
  await rawClose(raw)
  await deleteQueuesContaining(id)
  await deleteBroadcastQueues(id)
  assert.deepEqual(
    (await listQueues()).filter((q) => q.name.includes(id)),
    [],
    'no test queue left behind',
  )
})

test('proton sends CI messages (data section, amqp-value string, amqp-value map); the bridge decodes, settles, answers', async () => {
  // The reply queue must exist before anything is sent to it as /amq/queue/ (else: accepted and lost).
  const replies = `t-interop-replies-${id}`
  ;(await rawReceiver(raw, `/queue/${replies}`, { durable: false })).close()
  const replyTo = `/amq/queue/${replies}`
  const sends = [
    {
      encoding: 'data',
      body: { type: 'PING', v: 1 },
      message_id: `p-data-${id}`,
      reply_to: replyTo,
      subject: 'PING',
    },
    { encoding: 'value-string', body: { type: 'PING', v: 1 }, message_id: `p-str-${id}`, reply_to: replyTo },
    {
      encoding: 'value-map',
      body: { type: 'BROADCAST', v: 1, event: 'news', data: { n: 1 } },
      message_id: `p-map-${id}`,
      reply_to: replyTo,
    },
    { encoding: 'data', body: { type: 'NOPE', v: 1 }, message_id: `p-nope-${id}`, reply_to: replyTo },
  ]
  for (const spec of sends) assert.equal(await protonSend(bridge.nodeReplyTo, spec), 'accepted')
  await waitFor(() => handled.length === 3, 10_000, 'three CI messages handled')
  assert.deepEqual(
    handled.map(([message]) => message),
    [
      { type: 'PING', v: 1 },
      { type: 'PING', v: 1 },
      { type: 'BROADCAST', v: 1, event: 'news', data: { n: 1 } },
    ],
  )
  assert.equal(handled[0]?.[1].messageId, `p-data-${id}`)
  assert.equal(handled[0]?.[1].replyTo, replyTo)
  await waitFor(() => bridge.stats.settlements.accepted === 3, 5000, 'three accepted')
  await waitFor(() => bridge.stats.settlements.rejected === 1, 5000, 'one rejected')

  const results = await protonReceive(replyTo, 4)
  const byCorrelation = new Map(results.map((r) => [r.correlation_id, r]))
  for (const spec of sends.slice(0, 3)) {
    const result = byCorrelation.get(spec.message_id)
    assert.ok(result, `a RESULT for ${spec.message_id}`)
    assert.equal(result.inferred, true, 'a data section')
    assert.equal(result.content_type, 'application/json')
    assert.equal(result.subject, 'RESULT')
    const decoded = decodeResult((result.body as { bytes: string }).bytes)
    assert.ok(decoded.ok && decoded.message.ok, JSON.stringify(result.body))
  }
  const nope = byCorrelation.get(`p-nope-${id}`)
  assert.ok(nope, 'a RESULT for the unknown type')
  const decoded = decodeResult((nope.body as { bytes: string }).bytes)
  assert.ok(decoded.ok && decoded.message.ok === false)
  assert.equal(decoded.message.ok === false && decoded.message.error.code, 'UNKNOWN_TYPE')
})

test('proton receives what the bridge sent: data section JSON, content_type, subject, message_id, durable', async () => {
  const queue = `t-interop-out-${id}`
  const body = { type: 'CLIENT_EVENT', v: 1, sid: 'c'.repeat(22), node: bridge.nodeId, ts: 1, event: 'héllo' }
  await bridge.send(`/queue/${queue}`, body, {
    messageId: `b-${id}`,
    durable: true,
    replyTo: bridge.nodeReplyTo,
  })
  const [got] = await protonReceive(`/amq/queue/${queue}`, 1)
  assert.ok(got)
  assert.equal(got.inferred, true, 'a data section')
  assert.deepEqual(JSON.parse((got.body as { bytes: string }).bytes), body)
  assert.equal(got.content_type, 'application/json')
  assert.equal(got.subject, 'CLIENT_EVENT')
  assert.equal(got.id, `b-${id}`)
  assert.equal(got.reply_to, bridge.nodeReplyTo)
  assert.equal(got.durable, true)
})
