import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import type { ClientOptions } from 'ws'
import { SessionError, type UserClaims } from '../src/index.js'
import { expectRejected, startServer, type TestServer } from './helpers.js'

/** Claims from the `x-user` header: `{sub}` when given, else claims without a sub. */
function headerAuth(request: { headers: Record<string, unknown> }): UserClaims {
  const user = request.headers['x-user']
  return typeof user === 'string' ? { sub: user } : { anonymous: true }
}
const as = (user: string): ClientOptions => ({ headers: { 'x-user': user } })

describe('users: the user -> sessions index', () => {
  let server: TestServer
  const clients: TestClient[] = []
  const open = async (options: ClientOptions = {}) => {
    const client = await TestClient.open(server.url, options)
    clients.push(client)
    return { client, sid: await client.sid() }
  }
  before(async () => {
    server = await startServer({ heartbeatIntervalMs: 0, authenticate: headerAuth })
  })
  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)))
    await server.close()
  })

  it("a session's user is its claims' sub; userSessions lists them oldest first", async () => {
    const registry = server.app.wsSessions
    const a1 = await open(as('alice'))
    const a2 = await open(as('alice'))
    const b = await open(as('bob'))
    const anonymous = await open()
    assert.equal(registry.get(a1.sid)?.userId, 'alice')
    assert.equal(registry.get(anonymous.sid)?.userId, undefined, 'no sub: no user')
    assert.deepEqual(
      registry.userSessions('alice').map((s) => s.sid),
      [a1.sid, a2.sid],
    )
    assert.deepEqual(
      registry.userSessions('bob').map((s) => s.sid),
      [b.sid],
    )
    assert.deepEqual(registry.userSessions('nobody'), [])
    assert.equal(registry.userCount, 2)
  })

  it('emitToUser reaches every session of the user and no other', async () => {
    const registry = server.app.wsSessions
    const c1 = await open(as('carol'))
    const c2 = await open(as('carol'))
    const dave = await open(as('dave'))
    assert.equal(registry.emitToUser('carol', 'notice', { n: 1 }), 2)
    assert.deepEqual(await c1.client.next(), { event: 'notice', data: { n: 1 } })
    assert.deepEqual(await c2.client.next(), { event: 'notice', data: { n: 1 } })
    assert.equal(registry.emitToUser('nobody', 'notice'), 0)
    // dave got nothing: the next frame he receives is the answer to his own request.
    assert.equal((await dave.client.exchange({ event: 'GET_SID', id: 'x' })).id, 'x')
  })

  it('disconnectUser closes every session of the user with the code; the index empties as they close', async () => {
    const registry = server.app.wsSessions
    const e1 = await open(as('erin'))
    const e2 = await open(as('erin'))
    const frank = await open(as('frank'))
    assert.equal(registry.disconnectUser('erin', 4003, 'banned'), 2)
    assert.equal(registry.disconnectUser('erin', 4003, 'again'), 0, 'closing sessions are not counted twice')
    for (const { client } of [e1, e2]) assert.deepEqual(await client.closed, { code: 4003, reason: 'banned' })
    await until(() => registry.userSessions('erin').length === 0, {
      timeoutMs: 3000,
      what: 'erin to leave the index',
    })
    assert.equal(registry.has(frank.sid), true)
    assert.equal(frank.client.ws.readyState, frank.client.ws.OPEN)
    assert.throws(() => registry.disconnectUser('frank', 1006), /invalid WebSocket close code 1006/)
    assert.equal(registry.disconnectUser('nobody'), 0)
  })

  it('a session that closes leaves the index; the last one removes the user', async () => {
    const registry = server.app.wsSessions
    const g1 = await open(as('grace'))
    const g2 = await open(as('grace'))
    await g1.client.close()
    await until(() => registry.userSessions('grace').length === 1, {
      timeoutMs: 3000,
      what: 'one grace session',
    })
    assert.equal(registry.userSessions('grace')[0]?.sid, g2.sid)
    const users = registry.userCount
    await g2.client.close()
    await until(() => registry.userCount === users - 1, { timeoutMs: 3000, what: 'grace to leave the index' })
    assert.deepEqual(registry.userSessions('grace'), [])
  })
})

describe('users: the index stays exact whatever ends a session', () => {
  it('a session refused by onConnect, one dropped without a close frame, and one closed by the server all leave it', async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      authenticate: headerAuth,
      onConnect: (session) => {
        if (session.userId === 'refused') throw new SessionError('UNAVAILABLE', 'no', { closeCode: 1013 })
      },
    })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const refused = await TestClient.open(server.url, as('refused'))
    assert.equal((await refused.closed).code, 1013)
    const dropped = await TestClient.open(server.url, as('kim'))
    const closedByServer = await TestClient.open(server.url, as('kim'))
    const kept = await TestClient.open(server.url, as('kim'))
    const [, closedSid, keptSid] = await Promise.all([dropped, closedByServer, kept].map((c) => c.sid()))
    dropped.ws.terminate()
    registry.close(closedSid as string, 4000, 'bye')
    await until(() => registry.userSessions('kim').length === 1, {
      timeoutMs: 3000,
      what: 'two kim sessions to leave',
    })
    assert.deepEqual(
      registry.userSessions('kim').map((s) => s.sid),
      [keptSid],
    )
    assert.deepEqual(registry.userSessions('refused'), [])
    // The index holds exactly the sessions the registry holds, by user.
    const byUser = [...registry.values()].filter((s) => s.userId !== undefined)
    assert.equal(byUser.length, 1)
    assert.equal(registry.userCount, 1)
    await kept.close()
    await until(() => registry.userCount === 0, { timeoutMs: 3000, what: 'the index to empty' })
  })
})

describe('users: the userId option', () => {
  it('derives the user from the claims, and refuses a user id that is not 1-256 characters with 401', async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      authenticate: (request) => ({ uid: request.headers['x-user'] ?? null }),
      userId: (claims) => (claims.uid === null ? undefined : (claims.uid as string)),
    })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const client = await TestClient.open(server.url, as('u-1'))
    const sid = await client.sid()
    assert.equal(registry.get(sid)?.userId, 'u-1')
    const anonymous = await TestClient.open(server.url)
    assert.equal(registry.get(await anonymous.sid())?.userId, undefined)
    for (const bad of ['', 'x'.repeat(257)]) {
      const refused = await expectRejected(server.url, as(bad))
      assert.equal(refused.status, 401)
      assert.equal(refused.body?.code, 'UNAUTHORIZED')
    }
    assert.equal(registry.stats.rejectedUpgrades.UNAUTHORIZED, 2)
    await Promise.all([client.close(), anonymous.close()])
  })

  it('a userId that throws answers 401', async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      authenticate: () => ({ sub: 'x' }),
      userId: () => {
        throw new Error('boom')
      },
    })
    t.after(() => server.close())
    assert.equal((await expectRejected(server.url)).status, 401)
  })
})

describe('users: one client for the per-client limits', () => {
  it('maxSessionsPerClient counts the same sessions the index lists, and disconnectUser frees the slots', async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      authenticate: headerAuth,
      maxSessionsPerClient: 2,
    })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const first = await Promise.all([1, 2].map(() => TestClient.open(server.url, as('henry'))))
    assert.equal(registry.userSessions('henry').length, 2)
    assert.equal(registry.sessionsOfClient('user:henry'), 2)
    assert.equal((await expectRejected(server.url, as('henry'))).body?.code, 'TOO_MANY_CLIENT_SESSIONS')
    assert.equal(registry.userSessions('henry').length, 2, 'a refused upgrade is never indexed')
    assert.equal(registry.disconnectUser('henry'), 2)
    await Promise.all(first.map((c) => c.closed))
    await until(() => registry.sessionsOfClient('user:henry') === 0, {
      timeoutMs: 3000,
      what: 'the slots to be released',
    })
    const again = await Promise.all([1, 2].map(() => TestClient.open(server.url, as('henry'))))
    assert.equal(registry.userSessions('henry').length, 2)
    await Promise.all(again.map((c) => c.close()))
  })

  it('a custom userId is the default client key too', async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      maxSessionsPerClient: 1,
      authenticate: (request) => ({ account: request.headers['x-user'] }),
      userId: (claims) => claims.account as string,
    })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const client = await TestClient.open(server.url, as('ivy'))
    assert.equal(registry.sessionsOfClient('user:ivy'), 1)
    assert.equal((await expectRejected(server.url, as('ivy'))).status, 429)
    await client.close()
  })
})

describe('rooms: roomMembers pages with an exact count', () => {
  let server: TestServer
  let clients: TestClient[]
  let sids: string[]
  before(async () => {
    server = await startServer({ heartbeatIntervalMs: 0, authenticate: headerAuth })
    clients = await Promise.all(['u0', 'u1', 'u2', 'u3', 'u4'].map((u) => TestClient.open(server.url, as(u))))
    sids = await Promise.all(clients.map((c) => c.sid()))
    for (const sid of sids) server.app.wsSessions.join(sid, 'hall')
  })
  after(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await server.close()
  })

  it('lists members in join order from offset, at most limit, with the exact count', () => {
    const registry = server.app.wsSessions
    const page = registry.roomMembers('hall', { limit: 2 })
    assert.equal(page.count, 5)
    assert.deepEqual(
      page.members.map((s) => [s.sid, s.userId]),
      [
        [sids[0], 'u0'],
        [sids[1], 'u1'],
      ],
    )
    assert.deepEqual(
      registry.roomMembers('hall', { offset: 3, limit: 10 }).members.map((s) => s.sid),
      sids.slice(3),
    )
    assert.deepEqual(registry.roomMembers('hall', { limit: 0 }), { count: 5, members: [] })
    assert.deepEqual(registry.roomMembers('hall', { offset: 9 }), { count: 5, members: [] })
    assert.equal(registry.roomMembers('hall').members.length, 5, 'default limit 1000')
    assert.deepEqual(registry.roomMembers('empty'), { count: 0, members: [] })
    assert.throws(() => registry.roomMembers('hall', { limit: -1 }), /whole offset >= 0 and limit >= 0/)
    assert.throws(() => registry.roomMembers('hall', { offset: 1.5 }), /whole offset >= 0 and limit >= 0/)
  })

  it('a member that closes is no longer counted', async () => {
    const registry = server.app.wsSessions
    await clients[4]?.close()
    await until(() => registry.roomMembers('hall').count === 4, {
      timeoutMs: 3000,
      what: 'the room to shrink',
    })
    assert.equal(registry.roomMembers('hall').members.length, 4)
  })
})
