import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient } from '@session-gateway/test-kit'
import { type StartedGateway, startGateway } from './helpers/gateway.js'
import { jwtFor, TEST_JWT_SECRET } from './helpers/jwt.js'

describe('demo User Manager: a user-addressed message and a room presence list (embedded, auth on)', () => {
  let gw: StartedGateway
  const clients: TestClient[] = []
  const open = async (sub: string) => {
    const client = await TestClient.open(gw.wsUrl, {
      headers: { authorization: `Bearer ${await jwtFor(sub)}` },
    })
    clients.push(client)
    await client.event('demo.welcome')
    return { client, sid: await client.sid() }
  }
  before(async () => {
    gw = await startGateway({ AUTH_JWT_SECRET: TEST_JWT_SECRET })
  })
  after(async () => {
    for (const c of clients) await c.close().catch(() => {})
    await gw.gateway.close()
  })

  it("user.notify from one tab reaches every tab of the same user (user.message), and no other user's", async () => {
    const tab1 = await open('alice')
    const tab2 = await open('alice')
    const bob = await open('bob')
    assert.equal((await tab1.client.request('user.notify', { text: 'hello, my other tabs' })).ok, true)
    for (const tab of [tab1, tab2]) {
      const frame = await tab.client.event('user.message')
      assert.deepEqual(
        { ...(frame.data as object), ts: 0 },
        { from: tab1.sid, text: 'hello, my other tabs', ts: 0 },
      )
    }
    // bob's next event is his own echo: nothing addressed to alice came before it.
    await bob.client.request('echo', 'mark')
    await bob.client.event('echo')
    assert.equal(
      bob.client.frames.some((f) => f.event === 'user.message'),
      false,
    )
  })

  it('user.notify without text is a demo.error', async () => {
    const tab = await open('carol')
    await tab.client.request('user.notify', {})
    assert.match(
      ((await tab.client.event('demo.error')).data as { message: string }).message,
      /needs \{text\}/,
    )
  })

  it('room.who answers room.presence with the exact count and each member with its user', async () => {
    const a = await open('dave')
    const b = await open('erin')
    for (const m of [a, b]) {
      assert.equal((await m.client.request('room.join', { room: 'who-room' })).ok, true)
      await m.client.waitFor((f) => f.event === 'room.joined' && (f.data as { sid: string }).sid === m.sid)
    }
    await a.client.request('room.who', { room: 'who-room' })
    const presence = (await a.client.event('room.presence')).data as {
      room: string
      count: number
      members: Array<{ sid: string; user?: string }>
      unanswered: number
    }
    assert.equal(presence.room, 'who-room')
    assert.equal(presence.count, 2)
    assert.equal(presence.unanswered, 0)
    assert.deepEqual(
      presence.members.sort((x, y) => x.sid.localeCompare(y.sid)),
      [
        { sid: a.sid, user: 'dave' },
        { sid: b.sid, user: 'erin' },
      ].sort((x, y) => x.sid.localeCompare(y.sid)),
    )
  })
})

describe('demo User Manager without authentication', () => {
  it('user.notify says the session has no user', async () => {
    const gw = await startGateway({})
    try {
      const client = await TestClient.open(gw.wsUrl)
      await client.request('user.notify', { text: 'hi' })
      assert.match(((await client.event('demo.error')).data as { message: string }).message, /has no user/)
      await client.close()
    } finally {
      await gw.gateway.close()
    }
  })
})
