import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TestClient } from '@session-gateway/test-kit'
import type { FastifyRequest } from 'fastify'
import { SessionError, type UserClaims } from '../src/index.js'
import { expectRejected, startServer } from './helpers.js'

function tokenAuth(request: FastifyRequest): UserClaims | undefined {
  const token = request.headers.authorization
  if (token === 'Bearer good') return { userId: 'u1', roles: ['admin'] }
  if (token === 'Bearer boom') throw new Error('token service down')
  if (token === 'Bearer refused') throw new SessionError('EXPIRED', 'token expired')
  return undefined
}

describe('authenticate', () => {
  it('stores the claims on session.user', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0, authenticate: tokenAuth }, (app) => {
      app.wsSessions.handle('whoami', (session) => session.user)
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url, { headers: { authorization: 'Bearer good' } })
    assert.deepEqual((await client.exchange({ event: 'whoami', id: 1 })).data, {
      userId: 'u1',
      roles: ['admin'],
    })
    await client.close()
  })

  it('supports an async authenticate', async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      authenticate: async (request) => {
        await new Promise((resolve) => setImmediate(resolve))
        return tokenAuth(request)
      },
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url, { headers: { authorization: 'Bearer good' } })
    const sid = await client.sid()
    assert.deepEqual(server.app.wsSessions.get(sid)?.user, { userId: 'u1', roles: ['admin'] })
    assert.deepEqual(
      (await expectRejected(server.url, { headers: { authorization: 'Bearer bad' } })).status,
      401,
    )
    await client.close()
  })

  for (const [what, headers] of [
    ['returns undefined', { authorization: 'Bearer bad' }],
    ['no credentials at all', {}],
    ['throws an Error', { authorization: 'Bearer boom' }],
    ['throws a SessionError', { authorization: 'Bearer refused' }],
  ] as const) {
    it(`answers HTTP 401 with no upgrade when authenticate ${what}`, async (t) => {
      const server = await startServer({ heartbeatIntervalMs: 0, authenticate: tokenAuth })
      t.after(() => server.close())
      const rejection = await expectRejected(server.url, { headers })
      assert.deepEqual(rejection, {
        status: 401,
        body: { code: 'UNAUTHORIZED', message: 'authentication failed' },
      })
      assert.equal(server.app.wsSessions.size, 0)
      assert.equal(server.app.wsSessions.stats.sessionsOpened, 0)
      assert.equal(server.app.wsSessions.stats.rejectedUpgrades.UNAUTHORIZED, 1)
    })
  }

  it('refuses claims that are not an object', async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      authenticate: () => true as unknown as UserClaims,
    })
    t.after(() => server.close())
    assert.equal((await expectRejected(server.url)).status, 401)
  })
})

describe('allowedOrigins', () => {
  it('accepts a listed origin and answers HTTP 403 to others and to a missing Origin', async (t) => {
    const server = await startServer({
      heartbeatIntervalMs: 0,
      allowedOrigins: ['https://app.example.com'],
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url, { origin: 'https://app.example.com' })
    const sid = await client.sid()
    assert.equal(server.app.wsSessions.get(sid)?.origin, 'https://app.example.com')
    for (const origin of ['https://evil.example.com', 'http://app.example.com', undefined]) {
      const rejection = await expectRejected(server.url, origin === undefined ? {} : { origin })
      assert.deepEqual(rejection, {
        status: 403,
        body: { code: 'ORIGIN_NOT_ALLOWED', message: 'origin not allowed' },
      })
    }
    assert.equal(server.app.wsSessions.stats.rejectedUpgrades.ORIGIN_NOT_ALLOWED, 3)
    await client.close()
  })

  it('checks the origin before calling authenticate', async (t) => {
    let calls = 0
    const server = await startServer({
      heartbeatIntervalMs: 0,
      allowedOrigins: ['https://app.example.com'],
      authenticate: () => {
        calls++
        return { ok: true }
      },
    })
    t.after(() => server.close())
    assert.equal((await expectRejected(server.url, { origin: 'https://evil.example.com' })).status, 403)
    assert.equal(calls, 0)
  })

  it('allows any origin when the option is not set', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0 })
    t.after(() => server.close())
    const client = await TestClient.open(server.url, { origin: 'https://anything.example' })
    await client.sid()
    await client.close()
  })
})

describe('the WebSocket route', () => {
  it('answers a plain HTTP GET with 426', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0, path: '/socket' })
    t.after(() => server.close())
    const response = await server.app.inject({ method: 'GET', url: '/socket' })
    assert.equal(response.statusCode, 426)
    assert.deepEqual(response.json(), {
      code: 'UPGRADE_REQUIRED',
      message: 'this endpoint speaks WebSocket only',
    })
    const client = await TestClient.open(server.url)
    assert.ok(server.url.endsWith('/socket'))
    await client.sid()
    await client.close()
  })

  it('records the session metadata', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0 })
    t.after(() => server.close())
    const before = Date.now()
    const client = await TestClient.open(server.url, { headers: { 'user-agent': 'test-agent/1.0' } })
    const session = server.app.wsSessions.get(await client.sid())
    assert.ok(session)
    assert.equal(session.remoteAddress, '127.0.0.1')
    assert.equal(session.userAgent, 'test-agent/1.0')
    assert.equal(session.origin, undefined)
    assert.equal(session.user, undefined)
    assert.ok(session.connectedAt >= before && session.connectedAt <= Date.now())
    assert.equal(session.isOpen, true)
    assert.equal(session.bufferedAmount, 0)
    await client.close()
  })
})
