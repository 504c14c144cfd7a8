import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Compile } from 'typebox/compile'
import {
  clientDetached,
  clientDisconnected,
  clientResumed,
  DeliveredData,
  decodeUmMessage,
  encodeEventFrame,
  encodeSessionFrame,
  nodeHeartbeat,
  nodeStopped,
  SessionInfoData,
  serverFrameValidator,
  sessionFrameValidator,
  UM_MESSAGE_TYPES,
  withSeq,
} from '../src/index.js'

const SID = 'AAAAAAAAAAAAAAAAAAAAAA'
const TOKEN = 'x'.repeat(40)

describe('PROTOCOL.md 4.1 on the WebSocket: the session frame and seq', () => {
  it('withSeq adds seq to an encoded event frame, which stays a valid event frame', () => {
    assert.equal(withSeq(encodeEventFrame('tick', { n: 1 }), 7), '{"event":"tick","data":{"n":1},"seq":7}')
    assert.equal(withSeq(encodeEventFrame('tick'), 1), '{"event":"tick","seq":1}')
    assert.ok(serverFrameValidator.Check(JSON.parse(withSeq(encodeEventFrame('e', [1]), 3))))
  })
  it('seq must be a positive integer', () => {
    for (const seq of [0, -1, 1.5, '1']) {
      assert.equal(serverFrameValidator.Check({ event: 'e', seq }), false, `seq ${String(seq)}`)
    }
  })
  it('the three forms of the session frame encode and validate', () => {
    const fresh = encodeSessionFrame({ sid: SID, resumeToken: TOKEN, resumed: false })
    assert.equal(
      fresh,
      `{"event":"session","data":{"sid":"${SID}","resumeToken":"${TOKEN}","resumed":false}}`,
    )
    const resumed = { sid: SID, resumeToken: TOKEN, resumed: true, replayed: 3 }
    const refused = { sid: SID, resumeToken: TOKEN, resumed: false, reason: 'gap' as const }
    for (const data of [JSON.parse(fresh).data, resumed, refused]) {
      assert.ok(sessionFrameValidator.Check({ event: 'session', data }), JSON.stringify(data))
    }
  })
  it('a session frame with an unknown reason, a short SID or an extra field is refused', () => {
    const base = { sid: SID, resumeToken: TOKEN, resumed: false }
    for (const data of [
      { ...base, reason: 'stolen' },
      { ...base, sid: 'short' },
      { ...base, extra: 1 },
      { ...base, resumed: 'no' },
    ]) {
      assert.equal(sessionFrameValidator.Check({ event: 'session', data }), false, JSON.stringify(data))
    }
  })
})

describe('PROTOCOL.md 4.1 and 4.3 on AMQP', () => {
  it('every new gateway -> UM body decodes as a UM message', () => {
    const bodies = [
      clientDetached({ sid: SID, node: 'n1', code: 1006, reason: '' }),
      clientResumed({ sid: SID, node: 'n2', previousNode: 'n1', replayed: 4 }),
      clientDisconnected({ sid: SID, node: 'n1', code: 1006, reason: 'resume window expired' }),
      nodeHeartbeat({ node: 'n1', instance: 'a1b2', sessions: 12, intervalMs: 10_000 }),
      nodeStopped({ node: 'n1', instance: 'a1b2' }),
    ]
    for (const body of bodies) {
      const r = decodeUmMessage(JSON.stringify(body))
      assert.ok(r.ok, JSON.stringify(r))
      assert.deepEqual(r.message, body)
    }
    assert.deepEqual(
      bodies.map((b) => b.type).filter((t) => !(UM_MESSAGE_TYPES as readonly string[]).includes(t)),
      [],
    )
  })
  it('each field the contract requires is required', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ type: 'CLIENT_DETACHED', v: 1, sid: SID, node: 'n', ts: 1, reason: '' }, /code/],
      [{ type: 'CLIENT_RESUMED', v: 1, sid: SID, node: 'n', ts: 1, replayed: 0 }, /previousNode/],
      [
        { type: 'CLIENT_RESUMED', v: 1, sid: SID, node: 'n', previousNode: 'm', ts: 1, replayed: -1 },
        /replayed/,
      ],
      [{ type: 'NODE_HEARTBEAT', v: 1, node: 'n', ts: 1, sessions: 0, intervalMs: 1 }, /instance/],
      [
        { type: 'NODE_HEARTBEAT', v: 1, node: 'n', instance: 'i', ts: 1, sessions: 0, intervalMs: 0 },
        /intervalMs/,
      ],
      [{ type: 'NODE_STOPPED', v: 1, node: 'n', ts: 1 }, /instance/],
    ]
    for (const [body, field] of cases) {
      const r = decodeUmMessage(body)
      assert.equal(r.ok, false, JSON.stringify(body))
      if (!r.ok) {
        assert.equal(r.error.code, 'INVALID')
        assert.match(r.error.message, field)
      }
    }
  })
  it('RESULT data: EMIT to a detached session is {delivered: 0, kept: 1}; SESSION_INFO may say detached', () => {
    assert.ok(Compile(DeliveredData).Check({ delivered: 0, kept: 1 }))
    assert.ok(Compile(DeliveredData).Check({ delivered: 1 }))
    const info = { sid: SID, node: 'n', connectedAt: 1, rooms: ['r'], meta: { remoteAddress: '::1' } }
    assert.ok(Compile(SessionInfoData).Check({ ...info, detached: true }))
    assert.ok(Compile(SessionInfoData).Check(info))
  })
})
