import assert from 'node:assert/strict'
import { test } from 'node:test'
import rhea, { type Message } from 'rhea'
import { installTypedIdDecoding, receivedId } from '../src/amqp-ids.js'
import { encodeJsonMessage } from '../src/codec.js'
import { encodeJsonPayload } from '../src/payload.js'
import { decodeCommonPayload } from '../src/payload-decode.js'
import type { SendOptions } from '../src/types.js'

/** rhea's own decoder, taken before the bridge's wrapper (which uses the common decoder) is installed. */
const rheaDecode = (rhea.message as unknown as { decode: (buffer: Buffer) => Message }).decode
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

/** Messages of shapes the common decoder leaves to rhea. */
function uncommon(): Buffer[] {
  const data = rhea.message.data_section(Buffer.from('{"type":"EMIT"}'))
  const others: Message[] = [
    {
      body: data,
      message_id: rhea.types.wrap_uuid(rhea.string_to_uuid(rhea.generate_uuid())) as unknown as string,
    },
    { body: data, message_annotations: { 'x-opt-routing-key': 'k' } },
    { body: data, delivery_annotations: { 'x-d': 1 } },
    { body: data, footer: { f: 'v' } },
    { body: 'an amqp-value string' },
    { body: { a: 1 } },
    { body: rhea.message.data_sections([Buffer.from('{"a":'), Buffer.from('1}')]) },
    { body: data, creation_time: new Date(1_700_000_000_000), group_id: 'g', group_sequence: 3 },
    { body: data, user_id: Buffer.from('u') as unknown as string, to: '/queue/t', content_encoding: 'gzip' },
    { body: data, application_properties: { n: null as unknown as string, u: 300 } },
  ]
  return others.map((message) => rhea.message.encode(message))
}

/** A corpus of encoded messages: the bridge's own, rhea's, and shapes the common decoder leaves to rhea. */
function corpus(): Buffer[] {
  const out: Buffer[] = []
  for (const body of bodies)
    for (const shape of shapes)
      for (const correlationId of [undefined, 'c-1', { type: 'ulong', value: 5n } as const]) {
        const options: SendOptions = { ...shape, messageId: 'm-1' }
        if (correlationId !== undefined) options.correlationId = correlationId
        out.push(encodeJsonPayload(body, options), reference(body, options))
      }
  out.push(...uncommon())
  const data = rhea.message.data_section(Buffer.from('{"type":"EMIT"}'))
  // Every header field (common)
  out.push(
    rhea.message.encode({ body: data, priority: 9, first_acquirer: true, delivery_count: 300, ttl: 1 }),
  )
  // The header as RabbitMQ writes it: list8 of [durable, null, null, first_acquirer, null].
  const tail = encodeJsonPayload({ type: 'EMIT' }, { messageId: 'm', replyTo: '/queue/r' })
  out.push(Buffer.concat([Buffer.from('005370c006054140404140', 'hex'), tail]))
  out.push(Buffer.concat([Buffer.from('005370c0030156' + '5a', 'hex'), tail])) // a boolean as 0x56 and a byte
  out.push(Buffer.concat([Buffer.from('00537045', 'hex'), tail, Buffer.from('00', 'hex')])) // trailing byte
  return out
}

test('payload decode: what the common decoder returns is what rhea decodes, for every shape and every truncation', () => {
  let common = 0
  let checked = 0
  for (const bytes of corpus()) {
    const lengths =
      bytes.length > 2000 ? [bytes.length] : Array.from({ length: bytes.length + 1 }, (_, i) => i)
    for (const length of lengths) {
      const part = bytes.subarray(0, length)
      const ours = decodeCommonPayload(part)
      checked++
      if (ours === undefined) continue
      if (length === bytes.length) common++
      let theirs: unknown
      try {
        theirs = rheaDecode(part)
      } catch (error) {
        assert.fail(`decoded ${part.toString('hex')} where rhea throws ${String(error)}`)
      }
      assert.deepEqual(ours, theirs, part.toString('hex'))
      assert.equal(Object.getPrototypeOf(ours), Object.getPrototypeOf(theirs))
    }
  }
  assert.ok(common > 150, `most of the corpus is of the common shape (${common})`)
  assert.ok(checked > 50_000)
  // What it leaves to rhea: every shape that is not common.
  const leftToRhea = uncommon().map((bytes) => decodeCommonPayload(bytes))
  assert.deepEqual(leftToRhea, new Array(leftToRhea.length).fill(undefined))
})
