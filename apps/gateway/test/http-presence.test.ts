import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import { type StartedGateway, startGateway } from './helpers/gateway.js'
import { jwtFor, TEST_JWT_SECRET } from './helpers/jwt.js'

const TOKEN = 'http-presence-test-token-0123456789'
const admin = { authorization: `Bearer ${TOKEN}` }

// biome-ignore lint/suspicious/noExplicitAny: API answers are parsed JSON, asserted field by field
type Json = any

describe('admin API: users and rooms', () => {
  let gw: StartedGateway
  const clients: TestClient[] = []
  const open = async (sub: string) => {
    const client = await TestClient.open(gw.wsUrl, {
      headers: { authorization: `Bearer ${await jwtFor(sub)}` },
    })
    clients.push(client)
    return { client, sid: await client.sid() }
  }
  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = admin,
  ) => {
    const res = await fetch(`${gw.httpUrl}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (res.status === 204 ? undefined : await res.json()) as Json }
  }
  before(async () => {
    gw = await startGateway({ GATEWAY_ADMIN_TOKEN: TOKEN, AUTH_JWT_SECRET: TEST_JWT_SECRET })
  })
  after(async () => {
    for (const c of clients) await c.close().catch(() => {})
    await gw.gateway.close()
  })

  it("GET /v1/users/:user/sessions lists the user's sessions with an exact count", async () => {
    const a = await open('ann@example.com')
    const b = await open('ann@example.com')
    await open('ben')
    const res = await call('GET', `/v1/users/${encodeURIComponent('ann@example.com')}/sessions`)
    assert.equal(res.status, 200)
    assert.equal(res.body.user, 'ann@example.com')
    assert.equal(res.body.count, 2)
    assert.deepEqual(
      res.body.sessions.map((s: Json) => s.sid),
      [a.sid, b.sid],
    )
    assert.equal(res.body.sessions[0].meta.user.sub, 'ann@example.com')
    assert.deepEqual((await call('GET', '/v1/users/nobody/sessions')).body.sessions, [])
  })

  it('POST /v1/users/:user/messages reaches every session of the user', async () => {
    const c1 = await open('cid')
    const c2 = await open('cid')
    const res = await call('POST', '/v1/users/cid/messages', { event: 'admin.note', data: { n: 1 } })
    assert.deepEqual(res, { status: 200, body: { delivered: 2 } })
    for (const c of [c1, c2]) assert.deepEqual((await c.client.event('admin.note')).data, { n: 1 })
    assert.deepEqual((await call('POST', '/v1/users/nobody/messages', { event: 'x' })).body, { delivered: 0 })
    const badEvent = await call('POST', '/v1/users/cid/messages', { event: 'no spaces' })
    assert.equal(badEvent.status, 400)
    assert.equal(badEvent.body.code, 'INVALID')
    let deep: unknown = 0
    for (let i = 0; i < 70; i++) deep = [deep]
    const tooDeep = await call('POST', '/v1/users/cid/messages', { event: 'x', data: deep })
    assert.equal(tooDeep.status, 400)
    assert.match(tooDeep.body.message, /deeper/)
  })

  it('DELETE /v1/users/:user/sessions closes them all with the code given', async () => {
    const d1 = await open('dora')
    const d2 = await open('dora')
    const bad = await call('DELETE', '/v1/users/dora/sessions?code=1001')
    assert.equal(bad.status, 400)
    assert.equal(bad.body.code, 'INVALID')
    assert.match(bad.body.message, /querystring\/code/)
    const res = await call('DELETE', '/v1/users/dora/sessions?code=4001&reason=bye')
    assert.deepEqual(res, { status: 200, body: { closed: 2 } })
    for (const d of [d1, d2]) {
      await until(() => d.client.closeInfo !== undefined, { timeoutMs: 5000, what: 'the close' })
      assert.deepEqual(d.client.closeInfo, { code: 4001, reason: 'bye' })
    }
    await until(async () => (await call('GET', '/v1/users/dora/sessions')).body.count === 0, {
      timeoutMs: 5000,
      what: 'no dora',
    })
  })

  it('GET /v1/rooms/:room pages the members in join order, count exact', async () => {
    const members = [await open('e1'), await open('e2'), await open('e3')]
    for (const m of members) gw.gateway.app.wsSessions.join(m.sid, 'lounge')
    const first = await call('GET', '/v1/rooms/lounge?limit=2')
    assert.equal(first.status, 200)
    assert.deepEqual(first.body, {
      room: 'lounge',
      node: gw.gateway.config.node.id,
      count: 3,
      offset: 0,
      members: members.slice(0, 2).map((m, i) => ({ sid: m.sid, user: `e${i + 1}` })),
      nextOffset: 2,
    })
    const second = await call('GET', '/v1/rooms/lounge?offset=2&limit=2')
    assert.deepEqual(second.body.members, [{ sid: members[2]?.sid, user: 'e3' }])
    assert.equal(second.body.nextOffset, null)
    assert.deepEqual((await call('GET', '/v1/rooms/empty-room')).body.members, [])
    for (const query of ['limit=0', 'limit=1001', 'offset=-1', 'limit=Infinity']) {
      const res = await call('GET', `/v1/rooms/lounge?${query}`)
      assert.equal(res.status, 400, query)
      assert.equal(res.body.code, 'INVALID')
    }
  })

  it('a user id of 256 characters (any UTF-8) is found, a longer one is 400; every route needs the admin token', async () => {
    const longest = `${'é'.repeat(255)}z`
    await open(longest)
    const found = await call('GET', `/v1/users/${encodeURIComponent(longest)}/sessions`)
    assert.equal(found.status, 200)
    assert.equal(found.body.count, 1)
    const room = '字'.repeat(128)
    assert.equal((await call('GET', `/v1/rooms/${encodeURIComponent(room)}`)).status, 200)
    const long = await call('GET', `/v1/users/${'x'.repeat(257)}/sessions`)
    assert.equal(long.status, 400)
    assert.equal(long.body.code, 'INVALID')
    for (const [method, path] of [
      ['GET', '/v1/users/ann/sessions'],
      ['POST', '/v1/users/ann/messages'],
      ['DELETE', '/v1/users/ann/sessions'],
      ['GET', '/v1/rooms/lounge'],
    ] as const) {
      const res = await call(method, path, method === 'POST' ? { event: 'x' } : undefined, {})
      assert.equal(res.status, 401, `${method} ${path}`)
    }
  })

  it('gateway_users counts the users with a session on this node', async () => {
    const metrics = await (await fetch(`${gw.httpUrl}/metrics`)).text()
    const users = gw.gateway.app.wsSessions.userCount
    assert.ok(users >= 5, String(users))
    assert.match(metrics, new RegExp(`^gateway_users\\{[^}]*\\} ${users}$`, 'm'))
  })

  it('the OpenAPI document lists the routes', async () => {
    const doc = (await (await fetch(`${gw.httpUrl}/docs/openapi.json`)).json()) as Json
    assert.ok(doc.paths['/v1/users/{user}/sessions']?.get)
    assert.ok(doc.paths['/v1/users/{user}/sessions']?.delete)
    assert.ok(doc.paths['/v1/users/{user}/messages']?.post)
    assert.ok(doc.paths['/v1/rooms/{room}']?.get)
    assert.equal(
      doc.paths['/v1/rooms/{room}'].get.responses['200'].content['application/json'].schema.properties.count
        .type,
      'integer',
    )
  })
})
