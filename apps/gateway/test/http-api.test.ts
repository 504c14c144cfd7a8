import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient } from '@session-gateway/test-kit'
import { type StartedGateway, startGateway } from './helpers/gateway.js'

const TOKEN = 'http-api-test-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }

describe('HTTP API on the shared listener', () => {
  let gw: StartedGateway
  before(async () => {
    gw = await startGateway({ GATEWAY_ADMIN_TOKEN: TOKEN })
  })
  after(() => gw.gateway.close())

  const get = (path: string, headers: Record<string, string> = auth) =>
    fetch(`${gw.httpUrl}${path}`, { headers })

  it('healthz and readyz', async () => {
    const health = await get('/healthz', {})
    assert.equal(health.status, 200)
    assert.equal(((await health.json()) as { status: string }).status, 'ok')
    assert.equal((await get('/readyz', {})).status, 200)
  })

  it('/v1 routes need the bearer token: none, wrong, or in the query string is 401', async () => {
    const none = await get('/v1/sessions', {})
    assert.equal(none.status, 401)
    assert.match(((await none.json()) as { message: string }).message, /Authorization: Bearer/)
    assert.equal((await get('/v1/sessions', { authorization: 'Bearer wrong-token-wrong-token' })).status, 401)
    assert.equal((await get('/v1/sessions', { authorization: `Basic ${TOKEN}` })).status, 401)
    const query = await get(`/v1/sessions?token=${TOKEN}`, {})
    assert.equal(query.status, 401)
    assert.match(((await query.json()) as { message: string }).message, /not the query string/)
    assert.equal((await get(`/v1/sessions?access_token=${TOKEN}`)).status, 401)
  })

  it('lists sessions paged, shows one, sends to it, broadcasts, closes it', async () => {
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.open(gw.wsUrl)))
    const sids = await Promise.all(clients.map((c) => c.sid()))
    const page1 = (await (await get('/v1/sessions?limit=2')).json()) as {
      total: number
      items: { sid: string }[]
      nextOffset: number | null
    }
    assert.equal(page1.total, 3)
    assert.equal(page1.items.length, 2)
    assert.equal(page1.nextOffset, 2)
    const page2 = (await (await get('/v1/sessions?offset=2&limit=2')).json()) as typeof page1
    assert.equal(page2.items.length, 1)
    assert.equal(page2.nextOffset, null)
    assert.deepEqual([...page1.items, ...page2.items].map((s) => s.sid).sort(), [...sids].sort())

    const [sidA, sidB] = sids as [string, string, string]
    const [clientA, clientB] = clients as [TestClient, TestClient, TestClient]
    const sent = await fetch(`${gw.httpUrl}/v1/sessions/${sidA}/messages`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'admin.note', data: { n: 1 } }),
    })
    assert.equal(sent.status, 200)
    assert.deepEqual(await sent.json(), { delivered: 1 })
    assert.deepEqual((await clientA.event('admin.note')).data, { n: 1 })

    const all = await fetch(`${gw.httpUrl}/v1/broadcast`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'admin.all' }),
    })
    assert.deepEqual(await all.json(), { delivered: 3 })
    for (const c of clients) await c.event('admin.all')

    const closed = await fetch(`${gw.httpUrl}/v1/sessions/${sidB}?code=4002&reason=admin`, {
      method: 'DELETE',
      headers: auth,
    })
    assert.equal(closed.status, 204)
    assert.deepEqual(await clientB.waitClosed(), { code: 4002, reason: 'admin' })
    for (const c of clients) await c.close()
  })

  it('404 for an unknown SID, 400 with a clear message for schema errors', async () => {
    const unknown = 'Z'.repeat(22)
    const res = await get(`/v1/sessions/${unknown}`)
    assert.equal(res.status, 404)
    assert.deepEqual(await res.json(), {
      code: 'SESSION_NOT_FOUND',
      message: `no session ${unknown} on this node`,
    })
    assert.equal(
      (await fetch(`${gw.httpUrl}/v1/sessions/${unknown}`, { method: 'DELETE', headers: auth })).status,
      404,
    )
    const badSid = await get('/v1/sessions/short')
    assert.equal(badSid.status, 400)
    assert.equal(((await badSid.json()) as { code: string }).code, 'INVALID')
    const badBody = await fetch(`${gw.httpUrl}/v1/broadcast`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'bad event name' }),
    })
    assert.equal(badBody.status, 400)
    assert.match(((await badBody.json()) as { message: string }).message, /event/)
    const badCode = await fetch(`${gw.httpUrl}/v1/sessions/${unknown}?code=1001`, {
      method: 'DELETE',
      headers: auth,
    })
    assert.equal(badCode.status, 400)
    assert.equal((await get('/v1/sessions?limit=0')).status, 400)
  })

  it('numbers that are not finite and data nested too deep are 400, never a 500 or an unbounded page', async () => {
    const client = await TestClient.open(gw.wsUrl)
    const sid = await client.sid()
    try {
      for (const query of [
        'limit=Infinity',
        'limit=1e400',
        'offset=Infinity',
        'offset=-Infinity',
        'offset=1e400',
      ]) {
        const res = await get(`/v1/sessions?${query}`)
        assert.equal(res.status, 400, query)
        assert.equal(((await res.json()) as { code: string }).code, 'INVALID', query)
      }
      for (const code of ['Infinity', '-Infinity', '1e400']) {
        const res = await fetch(`${gw.httpUrl}/v1/sessions/${sid}?code=${code}`, {
          method: 'DELETE',
          headers: auth,
        })
        assert.equal(res.status, 400, code)
      }
      const deep = `{"event":"x","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`
      for (const path of [`/v1/sessions/${sid}/messages`, '/v1/broadcast']) {
        const res = await fetch(`${gw.httpUrl}${path}`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: deep,
        })
        assert.equal(res.status, 400, path)
        assert.match(((await res.json()) as { message: string }).message, /nested deeper than 64 levels/)
      }
      // An event named like the gateway's own frames is refused, in words rather than a regular expression.
      for (const path of [`/v1/sessions/${sid}/messages`, '/v1/broadcast']) {
        const res = await fetch(`${gw.httpUrl}${path}`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({
            event: 'session',
            data: { sid, resumeToken: 'x'.repeat(40), resumed: false },
          }),
        })
        assert.equal(res.status, 400, path)
        assert.deepEqual(await res.json(), {
          code: 'INVALID',
          message:
            "body/event must be 1-64 characters of [A-Za-z0-9_.:-] and not one of session, error, connect, connect_error, disconnect, disconnecting, newListener, removeListener (reserved: the gateway's own frames and Socket.IO's connection events)",
        })
      }
      // The session lived through all of it.
      assert.equal((await get(`/v1/sessions/${sid}`)).status, 200)
    } finally {
      await client.close()
    }
  })

  it('metrics in the Prometheus text format', async () => {
    const client = await TestClient.open(gw.wsUrl)
    await client.sid()
    const res = await get('/metrics', {})
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/)
    const text = await res.text()
    assert.match(text, /^gateway_sessions\{node="[^"]+"\} 1$/m)
    for (const name of [
      'gateway_frames_in_total',
      'gateway_broker_state',
      'gateway_outbox_depth',
      'gateway_ci_messages_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name)
    }
    assert.match(text, /^gateway_broker_state\{state="open",node="[^"]+"\} 1$/m)
    await client.close()
  })

  it('serves the OpenAPI and AsyncAPI documents', async () => {
    const openapi = (await (await get('/docs/openapi.json', {})).json()) as {
      openapi: string
      paths: Record<string, unknown>
    }
    assert.equal(openapi.openapi, '3.1.0')
    for (const path of [
      '/healthz',
      '/readyz',
      '/v1/sessions',
      '/v1/sessions/{sid}',
      '/v1/sessions/{sid}/messages',
      '/v1/broadcast',
    ]) {
      assert.ok(openapi.paths[path], path)
    }
    const asyncapi = (await (await get('/docs/asyncapi.json', {})).json()) as { asyncapi: string }
    assert.equal(asyncapi.asyncapi, '3.0.0')
  })
})

describe('HTTP API without an admin token', () => {
  it('has no /v1 routes (404 with the API error body)', async () => {
    const gw = await startGateway({})
    try {
      const res = await fetch(`${gw.httpUrl}/v1/sessions?limit=5`)
      assert.equal(res.status, 404)
      assert.deepEqual(await res.json(), {
        code: 'NOT_FOUND',
        message: 'the admin API is off: set GATEWAY_ADMIN_TOKEN to turn it on',
      })
      const other = await fetch(`${gw.httpUrl}/nothing-here`)
      assert.deepEqual(await other.json(), { code: 'NOT_FOUND', message: 'no route GET /nothing-here' })
      assert.equal((await fetch(`${gw.httpUrl}/healthz`)).status, 200)
    } finally {
      await gw.gateway.close()
    }
  })
})

describe('HTTP API on its own listener (GATEWAY_API_PORT)', () => {
  it('serves the API on the second listener, bound to 127.0.0.1 by default, and not on the WebSocket one', async () => {
    const gw = await startGateway({ GATEWAY_API_PORT: '0', GATEWAY_ADMIN_TOKEN: TOKEN })
    try {
      assert.notEqual(gw.apiUrl, gw.httpUrl)
      assert.match(gw.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.equal(gw.gateway.config.http.apiHost, '127.0.0.1')
      assert.equal((await fetch(`${gw.apiUrl}/readyz`)).status, 200)
      assert.equal((await fetch(`${gw.apiUrl}/v1/sessions`, { headers: auth })).status, 200)
      assert.equal((await fetch(`${gw.httpUrl}/readyz`)).status, 404)
      const client = await TestClient.open(gw.wsUrl)
      await client.sid()
      await client.close()
    } finally {
      await gw.gateway.close()
    }
  })
})
