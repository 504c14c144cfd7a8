import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  CI_MESSAGE_TYPES,
  clientConnected,
  clientDisconnected,
  clientEvent,
  decodeCiMessage,
  decodeResult,
  decodeUmMessage,
  GATEWAY_EVENT_NAMES,
  resultError,
  resultOk,
} from '../src/index.js'

const SID = 'AAAAAAAAAAAAAAAAAAAAAA'
const utf8 = (s: string) => new TextEncoder().encode(s)

/** One valid body per CI type, as PROTOCOL.md section 2 describes them. */
const validCi: Record<string, Record<string, unknown>> = {
  EMIT: { type: 'EMIT', v: 1, sid: SID, event: 'chat.message', data: { text: 'hi' } },
  ROOM_EMIT: { type: 'ROOM_EMIT', v: 1, room: 'lobby', event: 'chat.message', data: 1, exceptSid: SID },
  BROADCAST: { type: 'BROADCAST', v: 1, event: 'news' },
  JOIN: { type: 'JOIN', v: 1, sid: SID, room: 'lobby' },
  LEAVE: { type: 'LEAVE', v: 1, sid: SID, room: 'lobby' },
  DISCONNECT: { type: 'DISCONNECT', v: 1, sid: SID, code: 4001, reason: 'kicked' },
  SESSION_INFO: { type: 'SESSION_INFO', v: 1, sid: SID },
  PING: { type: 'PING', v: 1 },
  EMIT_USER: { type: 'EMIT_USER', v: 1, user: 'alice', event: 'notice', data: { n: 1 } },
  DISCONNECT_USER: { type: 'DISCONNECT_USER', v: 1, user: 'alice', code: 4003, reason: 'banned' },
  USER_INFO: { type: 'USER_INFO', v: 1, user: 'alice' },
  ROOM_INFO: { type: 'ROOM_INFO', v: 1, room: 'lobby', limit: 10 },
}

function expectCiError(body: unknown, code: string, pattern?: RegExp) {
  const r = decodeCiMessage(body)
  assert.equal(r.ok, false, `expected ${code} for ${JSON.stringify(body)?.slice(0, 80)}`)
  if (r.ok) return r
  assert.equal(r.error.code, code)
  if (pattern) assert.match(r.error.message, pattern)
  return r
}

describe('decodeCiMessage: every CI type', () => {
  it('has a valid example for each type of PROTOCOL.md', () => {
    assert.deepEqual(Object.keys(validCi).sort(), [...CI_MESSAGE_TYPES].sort())
  })
  for (const [type, body] of Object.entries(validCi)) {
    it(`${type} decodes from a data section, an amqp-value JSON string and an amqp-value map`, () => {
      for (const form of [utf8(JSON.stringify(body)), JSON.stringify(body), body]) {
        const r = decodeCiMessage(form)
        assert.ok(r.ok, JSON.stringify(r))
        assert.equal(r.message.type, type)
        assert.deepEqual(r.message, body)
      }
    })
    it(`${type} without v, or with v = 2, is INVALID naming v`, () => {
      const { v: _v, ...noV } = body
      expectCiError(noV, 'INVALID', /"v" must be 1/)
      expectCiError({ ...body, v: 2 }, 'INVALID', /"v" must be 1 \(got 2\)/)
    })
  }
  it('the optional fields may be left out', () => {
    assert.ok(decodeCiMessage({ type: 'EMIT', v: 1, sid: SID, event: 'e' }).ok)
    assert.ok(decodeCiMessage({ type: 'ROOM_EMIT', v: 1, room: 'r', event: 'e' }).ok)
    assert.ok(decodeCiMessage({ type: 'DISCONNECT', v: 1, sid: SID }).ok)
  })
  it('fields a newer peer adds are ignored, not refused', () => {
    assert.ok(decodeCiMessage({ ...validCi.PING, traceId: 'x' }).ok)
  })
})

describe('decodeCiMessage: each rule broken', () => {
  it('a body that is not JSON, not UTF-8, or not an object is INVALID', () => {
    expectCiError(utf8('{"type":'), 'INVALID', /not valid JSON/)
    expectCiError(new Uint8Array([0xc3, 0x28]), 'INVALID', /UTF-8/)
    for (const body of ['[]', '"PING"', '42', 'null', [1], 42, null, undefined, true]) {
      expectCiError(body, 'INVALID', /must be a JSON object/)
    }
  })
  it('a missing or non-string type is INVALID', () => {
    expectCiError({ v: 1 }, 'INVALID', /string "type"/)
    expectCiError({ type: 3, v: 1 }, 'INVALID', /string "type"/)
  })
  it('an unknown type is UNKNOWN_TYPE and names the type', () => {
    const r = expectCiError({ type: 'FROBNICATE', v: 1 }, 'UNKNOWN_TYPE', /unknown type "FROBNICATE"/)
    assert.equal('type' in r ? r.type : undefined, 'FROBNICATE')
    expectCiError({ type: 'toString', v: 1 }, 'UNKNOWN_TYPE')
    expectCiError({ type: 'CLIENT_EVENT', v: 1 }, 'UNKNOWN_TYPE')
  })
  it('a missing required field is INVALID and names the type and field', () => {
    expectCiError({ type: 'EMIT', v: 1, event: 'e' }, 'INVALID', /^EMIT: .*sid/)
    expectCiError({ type: 'JOIN', v: 1, sid: SID }, 'INVALID', /^JOIN: .*room/)
    expectCiError({ type: 'ROOM_EMIT', v: 1, room: 'r' }, 'INVALID', /event/)
  })
  it('a malformed sid, event or room is INVALID', () => {
    expectCiError({ ...validCi.EMIT, sid: 'short' }, 'INVALID', /sid/)
    expectCiError({ ...validCi.EMIT, sid: `${'A'.repeat(21)}!` }, 'INVALID', /sid/)
    expectCiError({ ...validCi.EMIT, event: 'bad event' }, 'INVALID', /event/)
    expectCiError({ ...validCi.JOIN, room: '' }, 'INVALID', /room/)
    expectCiError({ ...validCi.JOIN, room: 'r'.repeat(129) }, 'INVALID', /room/)
  })
  it("an event a backend sends may not be named like the gateway's own frames; names that contain one may", () => {
    for (const type of ['EMIT', 'ROOM_EMIT', 'BROADCAST', 'EMIT_USER']) {
      for (const event of GATEWAY_EVENT_NAMES) {
        expectCiError(
          { ...validCi[type], event },
          'INVALID',
          new RegExp(
            `^${type}: event must be 1-64 characters of \\[A-Za-z0-9_.:-\\] and not one of session, error,`,
          ),
        )
      }
      for (const event of [
        'sessions',
        'session.start',
        'my-error',
        'Session',
        'ERROR',
        'connected',
        'x'.repeat(64),
      ]) {
        assert.equal(decodeCiMessage({ ...validCi[type], event }).ok, true, `${type} ${event}`)
      }
      expectCiError({ ...validCi[type], event: 'x'.repeat(65) }, 'INVALID', /event must be 1-64 characters/)
    }
    // A client may still send them: they reach the UM as CLIENT_EVENT (only the gateway's own frames are protected).
    assert.ok(decodeUmMessage(clientEvent({ sid: SID, node: 'n', event: 'error' })).ok)
  })

  it('DISCONNECT accepts 1000 and 4000-4999 only, and a reason of at most 123 characters', () => {
    for (const code of [1000, 4000, 4999]) assert.ok(decodeCiMessage({ ...validCi.DISCONNECT, code }).ok)
    for (const code of [1001, 1008, 3999, 5000, 4000.5, '4000']) {
      expectCiError({ ...validCi.DISCONNECT, code }, 'INVALID')
    }
    expectCiError({ ...validCi.DISCONNECT, reason: 'x'.repeat(124) }, 'INVALID', /reason/)
  })
  it('deep nesting is refused in every body form without blowing the stack', () => {
    const text = `{"type":"EMIT","v":1,"sid":"${SID}","event":"e","data":${'['.repeat(50_000)}${']'.repeat(50_000)}}`
    expectCiError(text, 'INVALID', /nested deeper/)
    expectCiError(utf8(text), 'INVALID', /nested deeper/)
    let deep: unknown = 1
    for (let i = 0; i < 100; i++) deep = { a: deep }
    expectCiError({ ...validCi.EMIT, data: deep }, 'INVALID', /nested deeper/)
  })
  it('an amqp-value map must be plain JSON: no prototype set by a "__proto__" key, no binary, no timestamp', () => {
    // What an AMQP map reader that assigns keys (result[key] = value) makes of a "__proto__" key:
    // own fields none, and type/v/event read through the prototype.
    const smuggled: Record<string, unknown> = {}
    Object.setPrototypeOf(smuggled, { ...validCi.BROADCAST })
    assert.equal(smuggled.type, 'BROADCAST')
    expectCiError(smuggled, 'INVALID', /not a plain JSON object/)
    expectCiError({ ...validCi.EMIT, data: { blob: Buffer.alloc(1024 * 1024) } }, 'INVALID', /binary data/)
    expectCiError({ ...validCi.EMIT, data: new Date(0) }, 'INVALID', /not a plain JSON object/)
    expectCiError({ ...validCi.EMIT, data: Number.NaN }, 'INVALID', /not finite/)
    // An object without a prototype is still JSON.
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, validCi.PING)
    assert.ok(decodeCiMessage(bare).ok)
  })
})

describe('gateway -> User Manager bodies', () => {
  const meta = {
    remoteAddress: '127.0.0.1',
    userAgent: 'test',
    origin: 'http://localhost',
    user: { sub: 'u1' },
  }
  it('the builders produce bodies that decode as UM messages', () => {
    const bodies = [
      clientConnected({ sid: SID, node: 'n1', meta }),
      clientDisconnected({ sid: SID, node: 'n1', code: 1000, reason: '' }),
      clientEvent({ sid: SID, node: 'n1', event: 'chat.send', data: { text: 'hi' }, requestId: 'a7' }),
    ]
    for (const body of bodies) {
      const r = decodeUmMessage(utf8(JSON.stringify(body)))
      assert.ok(r.ok, JSON.stringify(r))
      assert.deepEqual(r.message, body)
      assert.equal(r.message.v, 1)
      assert.ok(Number.isInteger(r.message.ts) && r.message.ts > 1.6e12)
    }
  })
  it('CLIENT_EVENT leaves out data and requestId when the client sent none', () => {
    const body = clientEvent({ sid: SID, node: 'n1', event: 'tick', ts: 5 })
    assert.deepEqual(body, { type: 'CLIENT_EVENT', v: 1, sid: SID, node: 'n1', ts: 5, event: 'tick' })
    assert.equal(JSON.stringify(body).includes('data'), false)
  })
  it('a CLIENT_CONNECTED without meta.remoteAddress is INVALID', () => {
    const r = decodeUmMessage({ type: 'CLIENT_CONNECTED', v: 1, sid: SID, node: 'n', ts: 1, meta: {} })
    assert.equal(r.ok, false)
    if (!r.ok) assert.match(r.error.message, /remoteAddress/)
  })
})

describe('RESULT', () => {
  it('ok and error forms decode', () => {
    for (const body of [
      resultOk({ delivered: 1 }),
      resultOk(),
      resultError('SESSION_NOT_FOUND', 'no session X'),
    ]) {
      const r = decodeResult(JSON.stringify(body))
      assert.ok(r.ok)
      assert.deepEqual(r.message, body)
    }
    assert.deepEqual(resultOk({ delivered: 2 }), { type: 'RESULT', v: 1, ok: true, data: { delivered: 2 } })
  })
  it('ok:false without an error, or ok:true without data, is INVALID', () => {
    assert.equal(decodeResult({ type: 'RESULT', v: 1, ok: false }).ok, false)
    assert.equal(decodeResult({ type: 'RESULT', v: 1, ok: true }).ok, false)
  })
})
