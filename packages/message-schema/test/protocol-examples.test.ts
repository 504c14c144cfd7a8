// Cases written by hand from docs/PROTOCOL.md (sections 1-2), not produced by this package's
// builders: a builder and a validator that are wrong together (a field renamed in both, say) still
// fail here, on the literal text of the contract.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  clientConnected,
  clientDisconnected,
  clientEvent,
  decodeCiMessage,
  decodeResult,
  decodeUmMessage,
  encodeErrorFrame,
  encodeEventFrame,
  encodeReplyError,
  encodeReplyOk,
  resultError,
  resultOk,
  serverFrameValidator,
} from '../src/index.js'

const SID = 'AbCdEfGhIjKlMnOpQrStUv' // 22 characters of [A-Za-z0-9_-]
const TS = 1_700_000_000_000

describe('PROTOCOL.md section 1: gateway -> client frames, literally', () => {
  // "Gateway to client" and the GET_SID row, with "…" filled in.
  const frames = {
    getSidReply: `{"id":1,"ok":true,"data":{"sid":"${SID}"}}`,
    getSidEvent: `{"event":"GET_SID","data":{"sid":"${SID}"}}`,
    ack: '{"id":"a7","ok":true}',
    unavailable: '{"id":"a7","ok":false,"error":{"code":"UNAVAILABLE","message":"broker away"}}',
    error: '{"event":"error","data":{"code":"BAD_FRAME","message":"not JSON"}}',
    event: '{"event":"news","data":{"n":1}}',
  }
  it('the validator accepts each form of the contract', () => {
    for (const [name, text] of Object.entries(frames)) {
      assert.ok(serverFrameValidator.Check(JSON.parse(text)), name)
    }
  })
  it('the encoders write exactly those texts', () => {
    assert.equal(encodeReplyOk(1, { sid: SID }), frames.getSidReply)
    assert.equal(encodeEventFrame('GET_SID', { sid: SID }), frames.getSidEvent)
    assert.equal(encodeReplyOk('a7'), frames.ack)
    assert.equal(encodeReplyError('a7', 'UNAVAILABLE', 'broker away'), frames.unavailable)
    assert.equal(encodeErrorFrame('BAD_FRAME', 'not JSON'), frames.error)
    assert.equal(encodeEventFrame('news', { n: 1 }), frames.event)
  })
  it('the validator refuses what the contract does not allow', () => {
    const bad = [
      '{"id":"a7","ok":false}', // ok:false needs error {code, message}
      '{"id":"a7","ok":false,"error":{"code":"UNAVAILABLE"}}',
      '{"id":"a7"}', // a reply has ok
      '{"id":-1,"ok":true}', // integer 0..2^53-1
      `{"id":"${'x'.repeat(65)}","ok":true}`, // string of 1-64
      '{"id":"","ok":true}',
      '[1,2]',
    ]
    for (const text of bad) assert.equal(serverFrameValidator.Check(JSON.parse(text)), false, text)
  })
})

describe('PROTOCOL.md section 2: gateway -> UM bodies, literally', () => {
  // "Gateway to UM": every field of the table, written out.
  const connected = {
    type: 'CLIENT_CONNECTED',
    v: 1,
    sid: SID,
    node: 'gw-1',
    ts: TS,
    meta: {
      remoteAddress: '10.0.0.7',
      userAgent: 'Mozilla/5.0',
      origin: 'https://app.example',
      user: { sub: 'u1' },
    },
  }
  const disconnected = {
    type: 'CLIENT_DISCONNECTED',
    v: 1,
    sid: SID,
    node: 'gw-1',
    ts: TS,
    code: 4001,
    reason: 'kicked',
  }
  const event = {
    type: 'CLIENT_EVENT',
    v: 1,
    sid: SID,
    node: 'gw-1',
    ts: TS,
    event: 'chat.send',
    data: { text: 'hi' },
    requestId: 'a7',
  }
  const bareEvent = { type: 'CLIENT_EVENT', v: 1, sid: SID, node: 'gw-1', ts: TS, event: 'tick' }

  it('the decoder accepts each body, from its JSON text', () => {
    for (const body of [connected, disconnected, event, bareEvent]) {
      const r = decodeUmMessage(JSON.stringify(body))
      assert.ok(r.ok, JSON.stringify(r))
      assert.deepEqual(r.message, body)
    }
  })
  it('the builders produce exactly those bodies', () => {
    assert.deepEqual(clientConnected({ sid: SID, node: 'gw-1', ts: TS, meta: connected.meta }), connected)
    assert.deepEqual(
      clientDisconnected({ sid: SID, node: 'gw-1', ts: TS, code: 4001, reason: 'kicked' }),
      disconnected,
    )
    const { type: _type, v: _v, ...eventFields } = event
    assert.deepEqual(clientEvent(eventFields), event)
    assert.deepEqual(clientEvent({ sid: SID, node: 'gw-1', ts: TS, event: 'tick' }), bareEvent)
  })
  it('the decoder refuses a body that breaks the table', () => {
    const { meta: _meta, ...noMeta } = connected
    for (const body of [
      { ...connected, v: 2 }, // v = 1
      noMeta,
      { ...connected, meta: { userAgent: 'x' } }, // meta.remoteAddress is required
      { ...disconnected, code: undefined },
      { ...event, event: undefined },
      { ...event, sid: 'short' }, // SIDs have at least 22 characters
    ]) {
      assert.equal(decodeUmMessage(JSON.stringify(body)).ok, false, JSON.stringify(body))
    }
  })
})

describe('PROTOCOL.md section 2: CI -> gateway bodies, literally', () => {
  // "CI to gateway": one body per row, with its fields.
  const valid = [
    { type: 'EMIT', v: 1, sid: SID, event: 'news', data: { n: 1 } },
    { type: 'EMIT', v: 1, sid: SID, event: 'news' },
    { type: 'ROOM_EMIT', v: 1, room: 'lobby', event: 'room.msg', data: 'x', exceptSid: SID },
    { type: 'BROADCAST', v: 1, event: 'all' },
    { type: 'JOIN', v: 1, sid: SID, room: 'lobby' },
    { type: 'LEAVE', v: 1, sid: SID, room: 'lobby' },
    { type: 'DISCONNECT', v: 1, sid: SID },
    { type: 'DISCONNECT', v: 1, sid: SID, code: 1000, reason: 'bye' },
    { type: 'DISCONNECT', v: 1, sid: SID, code: 4999 },
    { type: 'SESSION_INFO', v: 1, sid: SID },
    { type: 'PING', v: 1 },
  ]
  it('the decoder accepts each row', () => {
    for (const body of valid) {
      const r = decodeCiMessage(JSON.stringify(body))
      assert.ok(r.ok, `${JSON.stringify(body)}: ${JSON.stringify(r)}`)
      assert.deepEqual(r.message, body)
    }
  })
  it('the decoder refuses what the table does not allow, with the contract error codes', () => {
    const cases: Array<[unknown, string]> = [
      [{ type: 'EMIT', v: 1, event: 'news' }, 'INVALID'], // sid required
      [{ type: 'EMIT', v: 2, sid: SID, event: 'news' }, 'INVALID'], // v is not 1
      [{ type: 'ROOM_EMIT', v: 1, event: 'x' }, 'INVALID'], // room required
      [{ type: 'DISCONNECT', v: 1, sid: SID, code: 1001 }, 'INVALID'], // 1000 or 4000-4999
      [{ type: 'DISCONNECT', v: 1, sid: SID, code: 5000 }, 'INVALID'],
      [{ type: 'FROBNICATE', v: 1 }, 'UNKNOWN_TYPE'],
      [[1, 2, 3], 'INVALID'], // not an object
    ]
    for (const [body, code] of cases) {
      const r = decodeCiMessage(JSON.stringify(body))
      assert.equal(r.ok, false, JSON.stringify(body))
      if (!r.ok) assert.equal(r.error.code, code, JSON.stringify(body))
    }
    const notJson = decodeCiMessage('{not json')
    assert.ok(!notJson.ok && notJson.error.code === 'INVALID')
  })
})

describe('PROTOCOL.md section 2: RESULT, literally', () => {
  const ok = '{"type":"RESULT","v":1,"ok":true,"data":{"delivered":1}}'
  const empty = '{"type":"RESULT","v":1,"ok":true,"data":{}}'
  const error =
    '{"type":"RESULT","v":1,"ok":false,"error":{"code":"SESSION_NOT_FOUND","message":"no such session"}}'
  it('the decoder accepts both forms', () => {
    for (const text of [ok, empty, error]) {
      const r = decodeResult(text)
      assert.ok(r.ok, text)
      assert.deepEqual(r.message, JSON.parse(text))
    }
  })
  it('the builders write exactly those bodies', () => {
    assert.equal(JSON.stringify(resultOk({ delivered: 1 })), ok)
    assert.equal(JSON.stringify(resultOk()), empty)
    assert.equal(JSON.stringify(resultError('SESSION_NOT_FOUND', 'no such session')), error)
  })
})
