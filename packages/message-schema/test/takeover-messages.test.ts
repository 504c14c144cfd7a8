import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  decodeCiMessage,
  decodeTakeoverMessage,
  takeoverGranted,
  takeoverRefused,
  takeoverRequest,
} from '../src/index.js'

const request = takeoverRequest({
  requestId: 'r1',
  token: 'tok',
  lastSeq: 3,
  node: 'n2',
  nodeAddress: '/amq/queue/gateway.node.n2',
  user: { sub: 'alice' },
  expiresAt: 1_700_000_000_000,
})

const snapshot = {
  sid: 'AAAAAAAAAAAAAAAAAAAAAA',
  connectedAt: 1,
  rooms: ['lobby'],
  remoteAddress: '127.0.0.1',
  nextSeq: 5,
  generation: 2,
  frames: [{ seq: 4, text: '{"event":"e","data":4}' }],
}

describe('takeover messages (node to node)', () => {
  it('the builders make messages the decoder accepts, as sent in an AMQP data section', () => {
    for (const message of [
      request,
      takeoverGranted({ requestId: 'r1', node: 'n1', snapshot }),
      takeoverRefused({ requestId: 'r1', node: 'n1', refused: 'gap' }),
    ]) {
      const decoded = decodeTakeoverMessage(Buffer.from(JSON.stringify(message)))
      assert.deepEqual(decoded, { ok: true, message })
    }
  })
  it('refuses what is not one of them, with a clear error', () => {
    assert.deepEqual(decodeTakeoverMessage({ type: 'EMIT', v: 1 }).ok, false)
    const unknown = decodeTakeoverMessage({ type: 'EMIT', v: 1 })
    assert.equal(!unknown.ok && unknown.error.code, 'UNKNOWN_TYPE')
    const noSeq = decodeTakeoverMessage({ ...request, lastSeq: -1 })
    assert.equal(!noSeq.ok && noSeq.error.code, 'INVALID')
    assert.match(!noSeq.ok ? noSeq.error.message : '', /TAKEOVER_REQUEST: .*lastSeq/)
    const badReason = decodeTakeoverMessage({
      type: 'TAKEOVER_REFUSED',
      v: 1,
      requestId: 'r',
      node: 'n',
      refused: 'x',
    })
    assert.equal(badReason.ok, false)
    const badSid = decodeTakeoverMessage(
      takeoverGranted({ requestId: 'r', node: 'n', snapshot: { ...snapshot, sid: 'short' } }),
    )
    assert.equal(badSid.ok, false)
    assert.equal(decodeTakeoverMessage({ ...request, v: 2 }).ok, false)
  })
  it('is no CI message: the CI cannot send one to a node address', () => {
    const asCi = decodeCiMessage(request)
    assert.equal(!asCi.ok && asCi.error.code, 'UNKNOWN_TYPE')
  })
})
