import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeClientFrame, ServerFrame, serverFrameValidator } from '../src/index.js'

function expectError(input: string | Uint8Array, code: string, pattern?: RegExp) {
  const result = decodeClientFrame(input)
  assert.equal(result.ok, false, `expected ${code} for ${String(input).slice(0, 80)}`)
  if (result.ok) return result
  assert.equal(result.error.code, code)
  if (pattern) assert.match(result.error.message, pattern)
  return result
}

describe('decodeClientFrame: the valid examples of PROTOCOL.md', () => {
  it('decodes GET_SID with an integer id', () => {
    assert.deepEqual(decodeClientFrame('{ "event": "GET_SID", "id": 1 }'), {
      ok: true,
      frame: { event: 'GET_SID', id: 1 },
    })
  })
  it('decodes a custom event with data and a string id', () => {
    assert.deepEqual(decodeClientFrame('{ "event": "chat.send", "data": { "text": "hi" }, "id": "a7" }'), {
      ok: true,
      frame: { event: 'chat.send', data: { text: 'hi' }, id: 'a7' },
    })
  })
  it('accepts any JSON value as data, and no id', () => {
    for (const data of [null, 0, 'x', [1, 2], { a: { b: [] } }, true]) {
      const r = decodeClientFrame(JSON.stringify({ event: 'e', data }))
      assert.ok(r.ok)
      assert.deepEqual(r.frame.data, data)
    }
  })
  it('accepts the bounds: 64-char event of every allowed character, id 0 and 2^53-1, 64-char string id', () => {
    const event = 'Az09_.:-'.repeat(8)
    assert.equal(event.length, 64)
    for (const id of [0, Number.MAX_SAFE_INTEGER, 'x'.repeat(64)]) {
      assert.ok(decodeClientFrame(JSON.stringify({ event, id })).ok)
    }
  })
  it('decodes raw UTF-8 bytes, including non-ASCII text', () => {
    const r = decodeClientFrame(new TextEncoder().encode('{"event":"e","data":"héllo 👋"}'))
    assert.ok(r.ok)
    assert.equal(r.frame.data, 'héllo 👋')
  })
})

describe('decodeClientFrame: each rule broken', () => {
  it('not JSON -> BAD_FRAME', () => {
    expectError('{"event":', 'BAD_FRAME', /not valid JSON/)
  })
  it('empty text -> BAD_FRAME', () => {
    expectError('', 'BAD_FRAME')
  })
  it('JSON that is not an object -> BAD_FRAME', () => {
    for (const text of ['[]', '[{"event":"e"}]', 'null', '1', '"GET_SID"', 'true']) {
      expectError(text, 'BAD_FRAME', /must be a JSON object/)
    }
  })
  it('invalid UTF-8 bytes -> BAD_FRAME', () => {
    expectError(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 'BAD_FRAME', /UTF-8/)
  })
  it('missing event -> INVALID', () => {
    expectError('{"data":1}', 'INVALID', /missing "event"/)
  })
  it('event of the wrong type, empty, too long or with bad characters -> INVALID', () => {
    for (const event of [1, '', 'x'.repeat(65), 'has space', 'semi;colon', 'slash/', 'é', null]) {
      expectError(JSON.stringify({ event }), 'INVALID', /"event" must be/)
    }
  })
  it('id out of range or of the wrong type -> INVALID without an id to reply to', () => {
    for (const id of [-1, 1.5, Number.MAX_SAFE_INTEGER + 2, '', 'x'.repeat(65), null, {}, [], true]) {
      const r = expectError(JSON.stringify({ event: 'e', id }), 'INVALID', /"id" must be/)
      assert.equal('id' in r ? r.id : undefined, undefined)
    }
  })
  it('huge numbers as id -> INVALID', () => {
    expectError('{"event":"e","id":1e400}', 'INVALID')
    expectError('{"event":"e","id":123456789012345678901234567890}', 'INVALID')
  })
  it('unknown field -> INVALID, with the usable id kept for the reply', () => {
    const r = expectError('{"event":"e","id":7,"sid":"someone-else"}', 'INVALID', /unknown field "sid"/)
    assert.equal('id' in r ? r.id : undefined, 7)
  })
  it('a bad event with a usable id keeps the id', () => {
    const r = expectError('{"event":"bad event","id":"r1"}', 'INVALID')
    assert.equal('id' in r ? r.id : undefined, 'r1')
  })
  it('deep nesting is refused without blowing the stack', () => {
    const deep = `{"event":"e","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`
    expectError(deep, 'INVALID', /nested deeper than 64/)
    const objects = `{"event":"e","data":${'{"a":'.repeat(70)}1${'}'.repeat(70)}}`
    expectError(objects, 'INVALID', /nested deeper/)
  })
  it('brackets inside strings do not count as nesting', () => {
    const r = decodeClientFrame(JSON.stringify({ event: 'e', data: '['.repeat(1000) }))
    assert.ok(r.ok)
  })
  it('nesting exactly at the limit is accepted; the limit is configurable', () => {
    const at = `{"event":"e","data":${'['.repeat(63)}${']'.repeat(63)}}`
    assert.ok(decodeClientFrame(at).ok)
    assert.equal(decodeClientFrame(at, { maxDepth: 10 }).ok, false)
  })
  it('never throws on arbitrary input', () => {
    const samples = [
      '\u0000',
      '{"event":"e"',
      '{"__proto__":{"x":1},"event":"e"}',
      '\ud800',
      '{"event":"\ud800"}',
    ]
    for (const s of samples) assert.doesNotThrow(() => decodeClientFrame(s))
  })
  it('a __proto__ key is treated as an unknown field, not as a prototype', () => {
    expectError('{"event":"e","__proto__":{"polluted":true}}', 'INVALID', /unknown field "__proto__"/)
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })
})

describe('server frames', () => {
  it('the three kinds of server frame from PROTOCOL.md match the ServerFrame schema', () => {
    assert.ok(ServerFrame)
    for (const frame of [
      { event: 'chat.message', data: { text: 'hi' } },
      { id: 1, ok: true, data: { sid: 'abc' } },
      { id: 'a7', ok: true },
      { id: 'a7', ok: false, error: { code: 'UNAVAILABLE', message: 'broker away' } },
      { event: 'error', data: { code: 'BAD_FRAME', message: 'frame is not valid JSON' } },
    ]) {
      assert.ok(serverFrameValidator.Check(frame), JSON.stringify(frame))
    }
  })
  it('a reply without ok, or an error without a code, is not a server frame', () => {
    assert.equal(serverFrameValidator.Check({ id: 1, error: { code: 'X', message: '' } }), false)
    assert.equal(serverFrameValidator.Check({ id: 1, ok: false, error: { message: 'x' } }), false)
  })
})

describe('decodeClientFrame: trace (W3C Trace Context for the CLIENT_EVENT)', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  it('decodes a frame with a trace, with or without tracestate', () => {
    assert.deepEqual(decodeClientFrame(JSON.stringify({ event: 'e', id: 1, trace: { traceparent } })), {
      ok: true,
      frame: { event: 'e', id: 1, trace: { traceparent } },
    })
    const withState = { event: 'e', trace: { traceparent, tracestate: 'vendor=x' } }
    assert.deepEqual(decodeClientFrame(JSON.stringify(withState)), { ok: true, frame: withState })
  })
  it('a bad trace -> INVALID naming the expected form, id kept', () => {
    for (const trace of [
      'x',
      {},
      { traceparent: traceparent.toUpperCase() },
      { traceparent: '00-abc-def-01' },
      { traceparent, tracestate: '' },
      { traceparent, extra: 1 },
    ]) {
      const r = expectError(
        JSON.stringify({ event: 'e', id: 3, trace }),
        'INVALID',
        /"trace" must be \{traceparent, tracestate\?\} with a W3C traceparent/,
      )
      assert.equal(!r.ok && r.id, 3)
    }
  })
})
