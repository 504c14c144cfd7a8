import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient } from '@session-gateway/test-kit'
import { type StartedGateway, startGateway } from './helpers/gateway.js'

const TOKEN = 'embedded-admin-token-0123'

describe('embedded mode (no broker): the demo User Manager end to end', () => {
  let gw: StartedGateway
  before(async () => {
    gw = await startGateway({ GATEWAY_ADMIN_TOKEN: TOKEN })
  })
  after(async () => {
    await gw.gateway.close()
  })

  it('is ready without a broker', async () => {
    const res = await fetch(`${gw.httpUrl}/readyz`)
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), {
      ready: true,
      broker: 'open',
      mode: 'embedded',
      shuttingDown: false,
      nodeCheck: 'skipped',
    })
  })

  it('greets a new session, answers GET_SID and echoes through the bus', async () => {
    const client = await TestClient.open(gw.wsUrl)
    const welcome = await client.event('demo.welcome')
    assert.ok((welcome.data as { events: Record<string, string> }).events.echo)
    const sid = await client.sid()
    assert.match(sid, /^[A-Za-z0-9_-]{22,}$/)
    const ack = await client.request('echo', { text: 'hello' })
    assert.deepEqual(ack, { id: 2, ok: true })
    const echo = await client.event('echo')
    assert.deepEqual(echo.data, { text: 'hello' })
    await client.close()
  })

  it('lets two sessions chat in a room', async () => {
    const alice = await TestClient.open(gw.wsUrl)
    const bob = await TestClient.open(gw.wsUrl)
    const aliceSid = await alice.sid()
    const bobSid = await bob.sid()
    assert.notEqual(aliceSid, bobSid)
    assert.equal((await alice.request('room.join', { room: 'lobby' })).ok, true)
    await alice.waitFor((f) => f.event === 'room.joined' && (f.data as { sid: string }).sid === aliceSid)
    assert.equal((await bob.request('room.join', { room: 'lobby' })).ok, true)
    await alice.waitFor((f) => f.event === 'room.joined' && (f.data as { sid: string }).sid === bobSid)
    await bob.waitFor((f) => f.event === 'room.joined' && (f.data as { sid: string }).sid === bobSid)
    await alice.request('room.send', { room: 'lobby', text: 'hi bob' })
    const msg = await bob.event('room.message')
    assert.deepEqual(
      { ...(msg.data as object), ts: 0 },
      { room: 'lobby', from: aliceSid, text: 'hi bob', ts: 0 },
    )
    await alice.event('room.message')
    await Promise.all([alice.close(), bob.close()])
  })

  it('tells the client what is wrong with a bad demo request', async () => {
    const client = await TestClient.open(gw.wsUrl)
    await client.request('room.join', { room: 'bad room name!' })
    const error = await client.event('demo.error')
    assert.match((error.data as { message: string }).message, /room must be/)
    await client.close()
  })

  it('lists the session in the admin API until it leaves', async () => {
    const client = await TestClient.open(gw.wsUrl)
    const sid = await client.sid()
    const auth = { authorization: `Bearer ${TOKEN}` }
    const one = await fetch(`${gw.httpUrl}/v1/sessions/${sid}`, { headers: auth })
    assert.equal(one.status, 200)
    const body = (await one.json()) as { sid: string; meta: { remoteAddress: string } }
    assert.equal(body.sid, sid)
    assert.equal(body.meta.remoteAddress, '127.0.0.1')
    await client.close()
    const deadline = Date.now() + 5000
    let status = 200
    while (status === 200 && Date.now() < deadline) {
      status = (await fetch(`${gw.httpUrl}/v1/sessions/${sid}`, { headers: auth })).status
    }
    assert.equal(status, 404)
  })
})
