import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  encodeErrorFrame,
  encodeEventFrame,
  encodeReplyError,
  encodeReplyOk,
  serverFrameValidator,
} from '../src/index.js'

describe('WebSocket frame encoders', () => {
  it('produce exactly the frames of PROTOCOL.md', () => {
    assert.equal(encodeReplyOk(1, { sid: 's' }), '{"id":1,"ok":true,"data":{"sid":"s"}}')
    assert.equal(encodeReplyOk('a7'), '{"id":"a7","ok":true}')
    assert.equal(
      encodeReplyError('a7', 'UNAVAILABLE', 'broker away'),
      '{"id":"a7","ok":false,"error":{"code":"UNAVAILABLE","message":"broker away"}}',
    )
    assert.equal(encodeEventFrame('GET_SID', { sid: 's' }), '{"event":"GET_SID","data":{"sid":"s"}}')
    assert.equal(encodeEventFrame('tick'), '{"event":"tick"}')
    assert.equal(
      encodeErrorFrame('BAD_FRAME', 'frame is not valid JSON'),
      '{"event":"error","data":{"code":"BAD_FRAME","message":"frame is not valid JSON"}}',
    )
  })
  it('every encoded frame is a valid server frame', () => {
    for (const text of [
      encodeReplyOk(0, null),
      encodeReplyError(1, 'INVALID', 'x'),
      encodeEventFrame('e', [1]),
      encodeErrorFrame('INTERNAL', 'x'),
    ]) {
      assert.ok(serverFrameValidator.Check(JSON.parse(text)), text)
    }
  })
})
