import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { pageUser, withToken } from '../src/user-token.js'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const token = (payload: unknown) => `${b64({ alg: 'HS256' })}.${b64(payload)}.c2ln`

describe('the page user from ?access_token=', () => {
  it('reads the token and its sub for display', () => {
    const t = token({ sub: 'zoë@example.com' })
    assert.deepEqual(pageUser(`?access_token=${t}`), { token: t, sub: 'zoë@example.com' })
  })
  it('no token, an empty one: no user; a token it cannot read: a user without a sub (the gateway decides)', () => {
    assert.equal(pageUser(''), undefined)
    assert.equal(pageUser('?access_token='), undefined)
    assert.deepEqual(pageUser('?access_token=not-a-jwt'), { token: 'not-a-jwt', sub: undefined })
    assert.equal(pageUser(`?access_token=${token(['x'])}`)?.sub, undefined)
  })
  it('puts the token in the WebSocket URL, keeping what is there', () => {
    const user = { token: 'a.b.c', sub: 'u' }
    assert.equal(withToken('ws://h:1/ws', user), 'ws://h:1/ws?access_token=a.b.c')
    assert.equal(withToken('ws://h:1/ws?x=1', user), 'ws://h:1/ws?x=1&access_token=a.b.c')
    assert.equal(withToken('ws://h:1/ws', undefined), 'ws://h:1/ws')
  })
})
