// Small pieces without a broker: backoff, dedupe window, codec, timers.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import rhea, { type Message } from 'rhea'
import { Backoff } from '../src/backoff.js'
import { bodyOf, encodeJsonMessage, jsonBodyOf, metaOf } from '../src/codec.js'
import { DedupeWindow } from '../src/dedupe.js'
import { Timers } from '../src/timers.js'

test('backoff: exponential ceiling with full jitter, capped, reset after success', () => {
  let r = 0.999_999
  const backoff = new Backoff(100, 1000, () => r)
  const ceilings = [100, 200, 400, 800, 1000, 1000]
  for (const ceiling of ceilings) {
    assert.equal(backoff.ceilingMs, ceiling)
    assert.equal(backoff.next(), ceiling - 1)
  }
  r = 0
  assert.equal(backoff.next(), 0, 'full jitter reaches 0')
  backoff.reset()
  assert.equal(backoff.ceilingMs, 100)
})

test('dedupe: remembers the last N successes; a failure is not remembered; a copy waits for the original', async () => {
  const window = new DedupeWindow(2)
  window.begin('a')(true)
  window.begin('b')(true)
  assert.equal(window.status('a'), 'done')
  window.begin('c')(true)
  assert.equal(window.status('a'), 'new', 'the oldest is forgotten past the window')
  assert.equal(window.status('c'), 'done')
  window.begin('d')(false)
  assert.equal(window.status('d'), 'new', 'a failed message is handled again')
  const finish = window.begin('e')
  const waiting = window.status('e')
  assert.ok(waiting instanceof Promise)
  finish(true)
  assert.equal(await waiting, true)
  assert.equal(window.status('e'), 'done')
})

test('dedupe: over many wraps of its ring, exactly the last N distinct successes are remembered', () => {
  const size = 7
  const window = new DedupeWindow(size)
  // The reference: ids in order of their first success while remembered, the oldest dropped past N.
  const model: string[] = []
  for (let i = 0; i < 1000; i++) {
    const id = i % 10 === 0 ? 'again' : `m${i}` // 'again' succeeds over and over: kept from its first success
    const finish = window.begin(id)
    const ok = i % 3 !== 2
    finish(ok)
    if (ok && !model.includes(id)) {
      model.push(id)
      if (model.length > size) model.shift()
    }
    assert.equal(window.rememberedCount, model.length)
    for (const remembered of model)
      assert.equal(window.status(remembered), 'done', `${remembered} after ${i}`)
    if (!ok && !model.includes(id)) assert.equal(window.status(id), 'new')
  }
  assert.equal(window.rememberedCount, size)
  assert.equal(window.status('m0'), 'new')
  const none = new DedupeWindow(0)
  none.begin('x')(true)
  assert.equal(none.status('x'), 'new')
})

test('codec: encoding as PROTOCOL.md section 2, decoding of data sections and amqp-values', () => {
  const encoded = encodeJsonMessage({ type: 'EMIT', v: 1 }, { durable: true, correlationId: 'c' })
  const decoded = rhea.message.decode(rhea.message.encode(encoded)) as unknown as Message
  assert.equal((decoded.body as { typecode: number }).typecode, 0x75)
  assert.deepEqual(jsonBodyOf(decoded), { type: 'EMIT', v: 1 })
  assert.equal(decoded.content_type, 'application/json')
  assert.equal(decoded.subject, 'EMIT')
  assert.equal(decoded.durable, true)
  assert.equal(decoded.correlation_id, 'c')
  assert.equal(typeof decoded.message_id, 'string')
  assert.equal(decoded.ttl, undefined, 'no ttl unless asked')
  const withTtl = encodeJsonMessage({ type: 'NODE_HEARTBEAT', v: 1 }, { ttl: 30_000, durable: false })
  const expiring = rhea.message.decode(rhea.message.encode(withTtl)) as unknown as Message
  assert.equal(expiring.ttl, 30_000)
  assert.equal(expiring.durable, false)
  assert.throws(() => encodeJsonMessage({ type: 'X', v: 1 }, { ttl: -1 }), /ttl: must be an integer of ms/)
  // several data sections are joined
  const multi = { body: rhea.message.data_sections([Buffer.from('{"a":'), Buffer.from('1}')]) } as Message
  const again = rhea.message.decode(rhea.message.encode(multi)) as unknown as Message
  assert.deepEqual(jsonBodyOf(again), { a: 1 })
  // amqp-value: a string is parsed, a map is as is, anything else is handed over untouched
  assert.deepEqual(jsonBodyOf({ body: '{"x":1}' } as Message), { x: 1 })
  assert.deepEqual(bodyOf({ body: { x: 1 } } as Message), { x: 1 })
  assert.equal(jsonBodyOf({ body: 'not json' } as Message), 'not json')
  // a uuid message id reads as its canonical string
  const uuid = rhea.generate_uuid()
  const meta = metaOf({ body: null, message_id: rhea.string_to_uuid(uuid) } as unknown as Message, 'node')
  assert.equal(meta.messageId, uuid)
})

test('deadlines: many of one duration expire in order on one timer; a cancelled one never expires', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] })
  const timers = new Timers()
  const expired: number[] = []
  const queue = timers.deadlines<number>(1000, (n) => expired.push(n))
  const places = [0, 1, 2, 3, 4].map((n) => {
    t.mock.timers.tick(100)
    return queue.add(n)
  })
  assert.equal(timers.size, 1, 'five deadlines, one timer')
  places[0]?.cancel()
  places[2]?.cancel()
  t.mock.timers.tick(1000) // now 1500: the deadlines of 1 (1200) and 3 (1400) are past, 4 (1500) too
  assert.deepEqual(expired, [1, 3, 4])
  assert.equal(timers.size, 0, 'nothing left to wait for: no timer')
  queue.add(5)
  queue.add(6)
  t.mock.timers.tick(999)
  assert.deepEqual(expired, [1, 3, 4])
  t.mock.timers.tick(1)
  assert.deepEqual(expired, [1, 3, 4, 5, 6])
  const last = queue.add(7)
  last.cancel()
  assert.equal(timers.size, 0, 'cancelling the only deadline disarms the timer')
})
