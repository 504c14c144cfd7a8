import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TestClient, until, within } from '@session-gateway/test-kit'
import type { FastifyRequest } from 'fastify'
import WebSocket, { type ClientOptions } from 'ws'
import { ClientLimits } from '../src/client-limits.js'
import { expectRejected, startServer } from './helpers.js'

const byHeader = (request: FastifyRequest) => `client:${String(request.headers['x-client'] ?? 'none')}`
const as = (client: string): ClientOptions => ({ headers: { 'x-client': client } })

/** The Retry-After header of a refused upgrade. */
function retryAfterOf(url: string): Promise<string | undefined> {
  const ws = new WebSocket(url)
  ws.on('error', () => {})
  return within(
    new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.terminate()
        reject(new Error('the upgrade was accepted'))
      })
      ws.once('unexpected-response', (_req, res) => {
        res.resume()
        ws.terminate()
        resolve(res.headers['retry-after'])
      })
    }),
    3000,
    'the upgrade to be refused',
  )
}

describe('maxSessionsPerClient', () => {
  it('answers the N+1th concurrent session of one address HTTP 429, and accepts again once one closes', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0, maxSessionsPerClient: 3 })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.open(server.url)))
    assert.equal(registry.sessionsOfClient('ip:127.0.0.1'), 3)
    assert.deepEqual(await expectRejected(server.url), {
      status: 429,
      body: { code: 'TOO_MANY_CLIENT_SESSIONS', message: 'too many sessions for this client' },
    })
    assert.equal(registry.stats.rejectedUpgrades.TOO_MANY_CLIENT_SESSIONS, 1)
    assert.equal(registry.size, 3)
    // The three live on.
    for (const client of clients) assert.equal(typeof (await client.sid()), 'string')

    await clients[0]?.close()
    await until(() => registry.sessionsOfClient('ip:127.0.0.1') === 2, {
      timeoutMs: 3000,
      what: 'the closed session to be released',
    })
    const again = await TestClient.open(server.url)
    await again.sid()
    assert.equal((await expectRejected(server.url)).status, 429)
    assert.equal(registry.stats.rejectedUpgrades.TOO_MANY_CLIENT_SESSIONS, 2)

    await Promise.all([again, ...clients.slice(1)].map((c) => c.close()))
    await until(() => registry.clientKeys === 0, { timeoutMs: 3000, what: 'the key map to empty' })
    assert.equal(registry.size, 0)
  })

  it('counts two client keys apart (custom clientKey)', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0, maxSessionsPerClient: 1, clientKey: byHeader })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const a = await TestClient.open(server.url, as('a'))
    const b = await TestClient.open(server.url, as('b'))
    assert.equal((await expectRejected(server.url, as('a'))).body?.code, 'TOO_MANY_CLIENT_SESSIONS')
    assert.equal((await expectRejected(server.url, as('b'))).body?.code, 'TOO_MANY_CLIENT_SESSIONS')
    const c = await TestClient.open(server.url, as('c'))
    assert.equal(registry.clientKeys, 3)
    assert.equal(registry.sessionsOfClient('client:a'), 1)
    await Promise.all([a, b, c].map((x) => x.close()))
    await until(() => registry.clientKeys === 0, { timeoutMs: 3000, what: 'the key map to empty' })
  })

  it("counts under the verified user's sub by default, else under the address", async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      maxSessionsPerClient: 1,
      authenticate: (request) => {
        const user = request.headers['x-user']
        return typeof user === 'string' ? { sub: user } : { anonymous: true }
      },
    })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const alice = await TestClient.open(server.url, { headers: { 'x-user': 'alice' } })
    const bob = await TestClient.open(server.url, { headers: { 'x-user': 'bob' } })
    const anonymous = await TestClient.open(server.url)
    assert.equal(registry.sessionsOfClient('user:alice'), 1)
    assert.equal(registry.sessionsOfClient('user:bob'), 1)
    assert.equal(registry.sessionsOfClient('ip:127.0.0.1'), 1)
    const refused = await expectRejected(server.url, { headers: { 'x-user': 'alice' } })
    assert.equal(refused.status, 429)
    assert.equal((await expectRejected(server.url)).status, 429)
    await Promise.all([alice, bob, anonymous].map((x) => x.close()))
    await until(() => registry.clientKeys === 0, { timeoutMs: 3000, what: 'the key map to empty' })
  })

  it("the default key is request.ip, so Fastify's trustProxy applies", async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0, maxSessionsPerClient: 1 }, undefined, {
      trustProxy: true,
    })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const from = (ip: string): ClientOptions => ({ headers: { 'x-forwarded-for': ip } })
    const a = await TestClient.open(server.url, from('203.0.113.7'))
    const b = await TestClient.open(server.url, from('2001:db8::1'))
    assert.equal((await expectRejected(server.url, from('203.0.113.7'))).status, 429)
    assert.equal(registry.sessionsOfClient('ip:203.0.113.7'), 1)
    assert.equal(registry.sessionsOfClient('ip:2001:db8::1'), 1)
    await Promise.all([a.close(), b.close()])
    await until(() => registry.clientKeys === 0, { timeoutMs: 3000, what: 'the key map to empty' })
  })

  it('falls back to the default key when clientKey throws or returns no string', async (t) => {
    let calls = 0
    const server = await startServer({
      heartbeatIntervalMs: 0,
      maxSessionsPerClient: 1,
      clientKey: () => {
        calls++
        if (calls === 1) throw new Error('boom')
        return 42 as unknown as string
      },
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    assert.equal(server.app.wsSessions.sessionsOfClient('ip:127.0.0.1'), 1)
    assert.equal((await expectRejected(server.url)).status, 429)
    await client.close()
  })
})

describe('connectRate', () => {
  it('lets a burst through, answers HTTP 429 with Retry-After, and accepts again once the bucket refilled', async (t) => {
    // The buckets read performance.now(): a mocked clock keeps the burst spent however long the
    // upgrades below take on a loaded machine (at 5/s a real 200 ms gives a token back).
    let clock = performance.now()
    t.mock.method(performance, 'now', () => clock)
    const server = await startServer({ heartbeatIntervalMs: 0, connectRate: { perSec: 5, burst: 2 } })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const first = await TestClient.open(server.url)
    const second = await TestClient.open(server.url)
    assert.deepEqual(await expectRejected(server.url), {
      status: 429,
      body: {
        code: 'CONNECT_RATE_LIMITED',
        message: 'too many new sessions from this client, retry later',
      },
    })
    assert.equal(await retryAfterOf(server.url), '1')
    assert.equal(registry.stats.rejectedUpgrades.CONNECT_RATE_LIMITED, 2)
    // Closing sessions gives no token back: only time does.
    await Promise.all([first.close(), second.close()])
    assert.equal((await expectRejected(server.url)).status, 429)

    // Just short of one token (200 ms at 5/s): still refused; one token back: one session.
    clock += 199
    assert.equal((await expectRejected(server.url)).status, 429)
    clock += 1
    const third = await TestClient.open(server.url)
    await third.sid()
    assert.equal((await expectRejected(server.url)).status, 429)
    await third.close()
    await until(() => registry.sessionsOfClient('ip:127.0.0.1') === 0, { timeoutMs: 3000, what: 'release' })
    assert.equal(registry.clientKeys, 1, 'an empty bucket is remembered')
    // The bucket refills (2 tokens at 5/s: 400 ms) and the key is forgotten.
    clock += 400
    assert.equal(registry.clientKeys, 0)
  })

  it('keeps separate buckets per key', async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      connectRate: { perSec: 0.1, burst: 1 },
      clientKey: byHeader,
    })
    t.after(() => server.close())
    const a = await TestClient.open(server.url, as('a'))
    assert.equal((await expectRejected(server.url, as('a'))).body?.code, 'CONNECT_RATE_LIMITED')
    const b = await TestClient.open(server.url, as('b'))
    assert.equal(server.app.wsSessions.clientKeys, 2)
    await Promise.all([a.close(), b.close()])
    await server.close()
    assert.equal(server.app.wsSessions.clientKeys, 0, 'cleared on close')
  })

  it('checks the session limit first: a refused session costs no token', async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      maxSessionsPerClient: 1,
      connectRate: { perSec: 0.1, burst: 2 },
    })
    t.after(() => server.close())
    const a = await TestClient.open(server.url)
    for (let i = 0; i < 3; i++) {
      assert.equal((await expectRejected(server.url)).body?.code, 'TOO_MANY_CLIENT_SESSIONS')
    }
    await a.close()
    await until(() => server.app.wsSessions.sessionsOfClient('ip:127.0.0.1') === 0, {
      timeoutMs: 3000,
      what: 'release',
    })
    const b = await TestClient.open(server.url)
    await b.close()
    await until(() => server.app.wsSessions.sessionsOfClient('ip:127.0.0.1') === 0, {
      timeoutMs: 3000,
      what: 'release',
    })
    assert.equal((await expectRejected(server.url)).body?.code, 'CONNECT_RATE_LIMITED')
  })

  it('tracks nothing when both limits are off (the default)', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0 })
    t.after(() => server.close())
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => TestClient.open(server.url)))
    assert.equal(server.app.wsSessions.clientKeys, 0)
    await Promise.all(clients.map((c) => c.close()))
  })
})

describe('addressConnectRate (before authenticate)', () => {
  it('refuses an address over its budget with HTTP 429 ADDRESS_RATE_LIMITED without calling authenticate; every attempt costs a token, failed or not', async (t) => {
    // A mocked clock: Retry-After '2' (a token every 2 s) holds however long the attempts take.
    const clock = performance.now()
    t.mock.method(performance, 'now', () => clock)
    let authCalls = 0
    const server = await startServer({
      heartbeatIntervalMs: 0,
      addressConnectRate: { perSec: 0.5, burst: 3 },
      authenticate(request) {
        authCalls++
        return request.headers.authorization === 'Bearer good' ? { sub: 'u1' } : undefined
      },
    })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const good: ClientOptions = { headers: { authorization: 'Bearer good' } }
    // Three attempts spend the burst: two with a bad token (401, each verified), one accepted.
    assert.equal((await expectRejected(server.url)).status, 401)
    assert.equal((await expectRejected(server.url)).status, 401)
    const session = await TestClient.open(server.url, good)
    assert.equal(authCalls, 3)
    // The fourth, even with a good token, is refused before authenticate runs.
    assert.deepEqual(await expectRejected(server.url, good), {
      status: 429,
      body: {
        code: 'ADDRESS_RATE_LIMITED',
        message: 'too many connection attempts from this address, retry later',
      },
    })
    assert.equal(await retryAfterOf(server.url), '2')
    assert.equal(authCalls, 3, 'no authentication for an address over its budget')
    assert.equal(registry.stats.rejectedUpgrades.ADDRESS_RATE_LIMITED, 2)
    assert.equal(registry.stats.rejectedUpgrades.UNAUTHORIZED, 2)
    // Keyed by request.ip, whatever the user: another user from this address is refused too.
    assert.equal(
      (await expectRejected(server.url, { headers: { authorization: 'Bearer other' } })).status,
      429,
    )
    assert.equal(authCalls, 3)
    await session.close()
  })

  it('is off by default', async (t) => {
    let authCalls = 0
    const server = await startServer({
      heartbeatIntervalMs: 0,
      authenticate() {
        authCalls++
        return undefined
      },
    })
    t.after(() => server.close())
    for (let i = 0; i < 30; i++) assert.equal((await expectRejected(server.url)).status, 401)
    assert.equal(authCalls, 30)
  })
})

describe('ClientLimits (memory bounds, with a fake clock)', () => {
  it('forgets a key once it has no session and a full bucket', () => {
    let now = 0
    const limits = new ClientLimits({
      maxSessionsPerClient: 2,
      connectRate: { perSec: 10, burst: 2 },
      maxClientKeys: 100,
      now: () => now,
    })
    assert.equal(limits.admit('k'), undefined)
    assert.equal(limits.admit('k'), undefined)
    assert.equal(limits.admit('k')?.refused, 'TOO_MANY_CLIENT_SESSIONS')
    limits.release('k')
    limits.release('k')
    assert.deepEqual(limits.admit('k'), { refused: 'CONNECT_RATE_LIMITED', retryAfterMs: 100 })
    assert.equal(limits.size, 1, 'an empty bucket is remembered')
    now = 150
    assert.equal(limits.size, 1, 'half full')
    now = 200
    assert.equal(limits.size, 0, 'full again: forgotten')
    limits.release('k') // releasing an unknown key is a no-op
    assert.equal(limits.sessionsOf('k'), 0)
  })

  it('deletes a key at once when its last session goes and there is no bucket', () => {
    const limits = new ClientLimits({ maxSessionsPerClient: 1, connectRate: false, maxClientKeys: 100 })
    limits.admit('k')
    assert.equal(limits.sessionsOf('k'), 1)
    limits.release('k')
    assert.equal(limits.size, 0)
  })

  it('stays under maxClientKeys with many distinct keys, evicting the least recently used idle key', () => {
    const now = 0
    const limits = new ClientLimits({
      maxSessionsPerClient: 0,
      connectRate: { perSec: 1, burst: 1 },
      maxClientKeys: 1000,
      now: () => now,
    })
    // Rotating addresses that connect and leave: each leaves an entry with an empty bucket.
    for (let i = 0; i < 50_000; i++) {
      const key = `ip:2001:db8::${i.toString(16)}`
      assert.equal(limits.admit(key), undefined)
      limits.release(key)
    }
    assert.equal(limits.size, 1000)
    assert.equal(limits.evicted, 49_000)
    // The newest keys are still limited; the oldest were forgotten.
    assert.equal(limits.admit(`ip:2001:db8::${(49_999).toString(16)}`)?.refused, 'CONNECT_RATE_LIMITED')
    assert.equal(limits.admit('ip:2001:db8::0'), undefined)
  })

  it('stays under maxClientKeys even when every key has an open session', () => {
    const limits = new ClientLimits({ maxSessionsPerClient: 1, connectRate: false, maxClientKeys: 1000 })
    for (let i = 0; i < 50_000; i++) limits.admit(`k${i}`)
    assert.equal(limits.size, 1000)
    assert.equal(limits.evicted, 49_000)
    // Counted, not timed: every eviction looks at 64 entries at most, not at all 1000 active ones.
    assert.ok(
      limits.scanned <= 49_000 * 64,
      `eviction scans stay short (${limits.scanned} entries looked at)`,
    )
    limits.release('k0') // forgotten: a no-op
  })

  it('evicts idle keys before keys with open sessions', () => {
    const limits = new ClientLimits({
      maxSessionsPerClient: 5,
      connectRate: { perSec: 1, burst: 5 },
      maxClientKeys: 2,
      now: () => 0,
    })
    limits.admit('active')
    limits.admit('idle-1')
    limits.release('idle-1')
    limits.admit('idle-2')
    limits.release('idle-2')
    assert.equal(limits.sessionsOf('active'), 1)
    assert.equal(limits.evicted, 1)
  })

  it('stores a very long key as a hash', () => {
    const long = `client:${'x'.repeat(10_000)}`
    const stored = ClientLimits.storedKey(long)
    assert.match(stored, /^sha256:[A-Za-z0-9_-]{43}$/)
    assert.equal(ClientLimits.storedKey('ip:127.0.0.1'), 'ip:127.0.0.1')
    const limits = new ClientLimits({ maxSessionsPerClient: 1, connectRate: false, maxClientKeys: 10 })
    limits.admit(long)
    assert.equal(limits.sessionsOf(long), 1)
    assert.equal(limits.admit(long)?.refused, 'TOO_MANY_CLIENT_SESSIONS')
  })
})
