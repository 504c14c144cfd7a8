import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decodeCiMessage, MAX_ROOM_INFO_LIMIT, MAX_USER_ID_LENGTH } from '../src/index.js'

function invalid(body: Record<string, unknown>, pattern: RegExp) {
  const r = decodeCiMessage(body)
  assert.equal(r.ok, false, JSON.stringify(body).slice(0, 120))
  if (r.ok) return
  assert.equal(r.error.code, 'INVALID')
  assert.match(r.error.message, pattern)
}

describe('users and presence messages (PROTOCOL.md 4.2)', () => {
  it('the optional fields may be left out', () => {
    assert.ok(decodeCiMessage({ type: 'EMIT_USER', v: 1, user: 'u', event: 'e' }).ok)
    assert.ok(decodeCiMessage({ type: 'DISCONNECT_USER', v: 1, user: 'u' }).ok)
    assert.ok(decodeCiMessage({ type: 'ROOM_INFO', v: 1, room: 'r' }).ok)
    assert.ok(decodeCiMessage({ type: 'ROOM_INFO', v: 1, room: 'r', limit: 0 }).ok)
    assert.ok(decodeCiMessage({ type: 'ROOM_INFO', v: 1, room: 'r', limit: MAX_ROOM_INFO_LIMIT }).ok)
  })
  it('a user must be a string of 1-256 characters', () => {
    invalid({ type: 'EMIT_USER', v: 1, event: 'e' }, /EMIT_USER: .*user/)
    invalid({ type: 'USER_INFO', v: 1, user: '' }, /USER_INFO: user/)
    invalid({ type: 'USER_INFO', v: 1, user: 42 }, /USER_INFO: user/)
    invalid({ type: 'DISCONNECT_USER', v: 1, user: 'x'.repeat(MAX_USER_ID_LENGTH + 1) }, /user/)
    assert.ok(decodeCiMessage({ type: 'USER_INFO', v: 1, user: 'x'.repeat(MAX_USER_ID_LENGTH) }).ok)
  })
  it("EMIT_USER's event name follows the client's rule", () => {
    invalid({ type: 'EMIT_USER', v: 1, user: 'u', event: 'has space' }, /EMIT_USER: event/)
  })
  it("DISCONNECT_USER's code is 1000 or 4000-4999 and its reason at most 123 characters", () => {
    invalid({ type: 'DISCONNECT_USER', v: 1, user: 'u', code: 1001 }, /DISCONNECT_USER: code/)
    invalid({ type: 'DISCONNECT_USER', v: 1, user: 'u', reason: 'r'.repeat(124) }, /DISCONNECT_USER: reason/)
  })
  it("ROOM_INFO's limit is a whole number from 0 to 10000, its room 1-128 characters", () => {
    invalid({ type: 'ROOM_INFO', v: 1, room: 'r', limit: -1 }, /ROOM_INFO: limit/)
    invalid({ type: 'ROOM_INFO', v: 1, room: 'r', limit: 1.5 }, /ROOM_INFO: limit/)
    invalid({ type: 'ROOM_INFO', v: 1, room: 'r', limit: MAX_ROOM_INFO_LIMIT + 1 }, /ROOM_INFO: limit/)
    invalid({ type: 'ROOM_INFO', v: 1, room: '' }, /ROOM_INFO: room/)
    invalid({ type: 'ROOM_INFO', v: 1 }, /ROOM_INFO: .*room/)
  })
})
