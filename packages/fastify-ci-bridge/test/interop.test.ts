// Interop with an independent AMQP 1.0 implementation: Debian's python3-qpid-proton, through RabbitMQ.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { before, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type CiMessage, decodeResult, resultOk } from '@session-gateway/message-schema'
import { until } from '@session-gateway/test-kit'
import type { Connection } from 'rhea'
import { createCiBridge, type ReceivedMeta, type StandaloneCiBridge } from '../src/index.js'
import { BROKER_URL, listQueues, rawReceiver, runBroadcast, sharedBroker } from './helpers.js'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3' // Debian's modules; the first python3 on PATH may not see them
const script = (name: string) => fileURLToPath(new URL(`./interop/${name}`, import.meta.url))

const broker = sharedBroker()
const id = broker.run
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
  /** [AMQP type, text]: ulong in decimal, uuid canonical, binary in hex. */
  typed_correlation_id: [string, string] | null
  application_properties: Record<string, unknown> | null
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
  raw = await broker.raw()
  bridge = broker.keep(
    createCiBridge({
      url: BROKER_URL,
      nodeId: `t-interop-${id}`,
      userManagerAddress: `/queue/t-interop-um-${id}`,
      broadcastAddress: runBroadcast(id),
      onMessage: async (message, meta) => {
        handled.push([message, meta])
        await bridge.reply(meta, resultOk({ seen: message.type }))
      },
    }),
  )
  await bridge.waitForOpen(10_000)
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
  await until(() => handled.length === 3, { timeoutMs: 10_000, what: 'three CI messages handled' })
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
  await until(() => bridge.stats.settlements.accepted === 3, { timeoutMs: 5000, what: 'three accepted' })
  await until(() => bridge.stats.settlements.rejected === 1, { timeoutMs: 5000, what: 'one rejected' })

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

test('a RESULT carries the request id with its AMQP type (ulong, uuid, binary, string) to a proton CI whose reply_to is /queue/NAME', async () => {
  // A non-durable reply queue, named the RabbitMQ way (/queue/NAME): the bridge must send to it
  // without declaring it (its durable declare would be refused and the RESULT lost).
  const replies = `t-interop-typed-${id}`
  ;(await rawReceiver(raw, `/queue/${replies}`, { durable: false })).close()
  const ulongId = BigInt(`0x${randomBytes(6).toString('hex')}`).toString()
  const ids: Array<[string, string]> = [
    ['ulong', ulongId],
    ['ulong', '18446744073709551615'], // 2^64-1: rhea decodes it as bytes, not a number
    ['uuid', randomUUID()],
    ['binary', randomBytes(16).toString('hex')], // 16 bytes, and still not a uuid
    ['binary', randomBytes(5).toString('hex')],
    ['string', `p-typed-${id}`],
  ]
  const before = handled.length
  for (const [idType, messageId] of ids) {
    const spec = {
      encoding: 'data',
      body: { type: 'PING', v: 1 },
      message_id: messageId,
      id_type: idType,
      reply_to: `/queue/${replies}`,
    }
    assert.equal(await protonSend(bridge.nodeReplyTo, spec), 'accepted')
  }
  await until(() => handled.length === before + ids.length, { timeoutMs: 10_000, what: 'every PING handled' })
  const metas = handled.slice(before).map(([, meta]) => meta)
  assert.deepEqual(
    metas.map((meta) => [meta.amqpMessageId?.type, meta.messageId]),
    ids,
    'meta keeps the type; messageId is its text form',
  )
  assert.ok(
    metas.every((meta) => meta.replyTo === `/amq/queue/${replies}`),
    'replies go to /amq/queue/NAME',
  )
  const results = await protonReceive(`/amq/queue/${replies}`, ids.length)
  assert.deepEqual(
    results.map((r) => r.typed_correlation_id).sort(),
    [...ids].sort(),
    'each RESULT correlation_id has the type and value of its request message_id',
  )
})

test('application_properties pass both ways between proton and the bridge (W3C traceparent)', async () => {
  const traceparent = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`
  const messageId = `p-trace-${id}`
  const spec = {
    encoding: 'data',
    body: { type: 'PING', v: 1 },
    message_id: messageId,
    application_properties: { traceparent, tenant: 'blue' },
  }
  assert.equal(await protonSend(bridge.nodeReplyTo, spec), 'accepted')
  await until(() => handled.some(([, meta]) => meta.messageId === messageId), {
    timeoutMs: 10_000,
    what: 'the PING handled',
  })
  const meta = handled.find(([, m]) => m.messageId === messageId)?.[1]
  assert.deepEqual(meta?.applicationProperties, { traceparent, tenant: 'blue' })

  const queue = `t-interop-props-${id}`
  await bridge.send(
    `/queue/${queue}`,
    { type: 'CLIENT_EVENT', v: 1 },
    { applicationProperties: { traceparent } },
  )
  const [got] = await protonReceive(`/amq/queue/${queue}`, 1)
  assert.deepEqual(got?.application_properties, { traceparent })
})

test('a bad id is refused before anything is sent', async () => {
  const to = `/queue/t-interop-never-${id}`
  await assert.rejects(
    bridge.send(to, { type: 'PING', v: 1 }, { messageId: { type: 'ulong', value: -1n } }),
    /messageId: a ulong id needs a bigint from 0 to 2\^64-1/,
  )
  await assert.rejects(
    bridge.send(to, { type: 'PING', v: 1 }, { correlationId: { type: 'uuid', value: 'nope' } }),
    /correlationId: a uuid id needs its canonical text form/,
  )
  assert.equal((await listQueues()).filter((q) => q.name === `t-interop-never-${id}`).length, 0)
})
