import assert from 'node:assert/strict'
import { test } from 'node:test'
import rhea, { type Message } from 'rhea'
import { installTypedIdDecoding, receivedId } from '../src/amqp-ids.js'
import { encodeJsonMessage } from '../src/codec.js'
import { encodeJsonPayload } from '../src/payload.js'
import type { SendOptions } from '../src/types.js'

installTypedIdDecoding()

/** What rhea made of the bytes, as plain data (the body's bytes as an array, to compare by value). */
function decoded(bytes: Buffer): Record<string, unknown> {
  const message = rhea.message.decode(bytes) as unknown as Message & Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(message)) {
    if (typeof value === 'function') continue
    out[key] = key === 'body' ? [...((value as { content: Buffer }).content ?? [])] : value
  }
  out.typedMessageId = receivedId(message, 'messageId')
  out.typedCorrelationId = receivedId(message, 'correlationId')
  return out
}

/** The reference: the message as rhea encodes it (what the bridge sent before this encoder). */
function reference(body: object, options: SendOptions): Buffer {
  return rhea.message.encode(encodeJsonMessage(body, options))
}

const long = 'x'.repeat(300)
const unicode = 'événement-🙂-イベント'
const bodies: object[] = [
  { type: 'CLIENT_EVENT', sid: 'abc', data: { n: 1 } },
  { type: 'EMIT', data: long },
  { type: unicode, data: { text: unicode } },
  { no: 'type' },
]
/** Past 64 KiB: several transfer frames on the wire; checked with fewer option combinations. */
const big = { type: 'BIG', data: 'y'.repeat(70_000) }
const ids: SendOptions['messageId'][] = [
  'id-1',
  long,
  { type: 'string', value: unicode },
  { type: 'ulong', value: 0n },
  { type: 'ulong', value: (1n << 64n) - 1n },
  { type: 'uuid', value: '0f8fad5b-d9cb-469f-a165-70867728950e' },
  { type: 'binary', value: new Uint8Array([1, 2, 3]) },
  { type: 'binary', value: new Uint8Array(300).fill(7) },
]
const shapes: SendOptions[] = [
  {},
  { durable: true },
  { durable: false },
  { ttl: 0 },
  { ttl: 0xffffffff, durable: true },
  { replyTo: '/queue/gateway.node-1' },
  { replyTo: long, subject: unicode },
  { subject: '' },
  { applicationProperties: { traceparent: '00-abc-def-01', tracestate: unicode } },
  { applicationProperties: {} },
  { applicationProperties: { flag: true, off: false, [long]: long } },
  { applicationProperties: { n: 7, neg: -3, big: 2 ** 40, frac: 1.5, s: 'mixed' } },
]

test('payload: rhea decodes exactly what it decoded from its own encoding, for every field and size', () => {
  let cases = 0
  for (const body of bodies)
    for (const messageId of ids)
      for (const shape of shapes) {
        for (const correlationId of [undefined, ...ids]) {
          const options: SendOptions = { ...shape, messageId }
          if (correlationId !== undefined) options.correlationId = correlationId
          const ours = decoded(encodeJsonPayload(body, options))
          const theirs = decoded(reference(body, options))
          assert.deepEqual(
            ours,
            theirs,
            JSON.stringify({ body, options }, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).slice(
              0,
              300,
            ),
          )
          cases++
        }
      }
  for (const shape of shapes) {
    const options: SendOptions = { ...shape, messageId: 'big', correlationId: { type: 'ulong', value: 9n } }
    assert.deepEqual(decoded(encodeJsonPayload(big, options)), decoded(reference(big, options)))
    cases++
  }
  assert.ok(cases > 3000)
})

test('payload: a fresh uuid message_id when none is given, a new one per message', () => {
  const a = rhea.message.decode(encodeJsonPayload({ type: 'X' })) as unknown as Message
  const b = rhea.message.decode(encodeJsonPayload({ type: 'X' })) as unknown as Message
  assert.match(String(a.message_id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  assert.notEqual(a.message_id, b.message_id)
  assert.equal(a.content_type, 'application/json')
})

test('payload: refuses what the message encoder refuses, with the same messages', () => {
  const bad: Array<[unknown, SendOptions]> = [
    [[1, 2], {}],
    [null, {}],
    [Buffer.from('{}'), {}],
    [{ type: 'X' }, { ttl: -1 }],
    [{ type: 'X' }, { ttl: 1.5 }],
    [{ type: 'X' }, { ttl: 2 ** 32 }],
    [{ type: 'X' }, { messageId: { type: 'uuid', value: 'not-a-uuid' } }],
    [{ type: 'X' }, { correlationId: { type: 'ulong', value: -1n } }],
    [{ type: 'X', n: 1n }, {}],
  ]
  for (const [body, options] of bad) {
    let expected: unknown
    try {
      encodeJsonMessage(body as object, options)
    } catch (error) {
      expected = error
    }
    assert.ok(expected instanceof TypeError, `the reference refuses ${String(body)}`)
    assert.throws(() => encodeJsonPayload(body as object, options), {
      name: 'TypeError',
      message: (expected as Error).message,
    })
  }
})
