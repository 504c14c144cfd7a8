import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { type ClientObservations, connect, type GatewayClient } from '../src/index.js'
import { GatewayNode, until } from './helpers/gateway-process.js'

const SECRET = randomBytes(24).toString('hex')
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
/** An HS256 JWT for `sub`, as an identity provider would sign it (the gateway verifies it). */
function jwtFor(sub: string): string {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 600 })}`
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`
}

// Embedded mode with authentication and resume on: the resuming upgrade needs a JWT of the same user.
describe('client library with authentication on: the token on every attempt, resume for the same user only', () => {
  let gw: GatewayNode
  const clients: GatewayClient[] = []
  before(async () => {
    gw = await GatewayNode.start({ AUTH_JWT_SECRET: SECRET, SESSION_RESUME_WINDOW_MS: '30000' })
  })
  after(async () => {
    for (const c of clients) await c.close()
    await gw?.stop()
  })

  /** A client whose token function gives a JWT for whichever user `who()` names at each attempt. */
  function client(who: () => string) {
    const c = connect(gw.wsUrl, { WebSocket, token: () => jwtFor(who()), reconnect: { initialDelayMs: 50 } })
    clients.push(c)
    const sessions: Array<ClientObservations['session']> = []
    c.observe('session', (s) => sessions.push(s))
    return { c, sessions }
  }

  it('resumes after a drop with a fresh JWT of the same user', async () => {
    const { c, sessions } = client(() => 'alice')
    const { sid } = await c.ready()
    assert.equal(c.drop(), true)
    await until(
      () => sessions.length === 2,
      'the second session',
      15_000,
      () => gw.process.explain(),
    )
    assert.deepEqual(sessions[1], { sid, resumed: true, replayed: 0, previousSid: sid })
  })

  it("another user's JWT does not resume the session: a reset (invalid), and the session stays resumable", async () => {
    let user = 'alice'
    const { c, sessions } = client(() => user)
    const { sid } = await c.ready()
    user = 'mallory'
    c.drop()
    await until(
      () => sessions.length === 2,
      'the second session',
      15_000,
      () => gw.process.explain(),
    )
    assert.equal(sessions[1]?.resumed, false)
    assert.equal(sessions[1]?.reason, 'invalid')
    assert.notEqual(c.sid, sid)
    // The refused attempt did not end alice's session: it waits, detached, for its real client.
    assert.equal((await gw.session(sid))?.detached, true)
  })
})
