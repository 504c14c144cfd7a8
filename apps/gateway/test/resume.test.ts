import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { UmMessage } from '@session-gateway/message-schema'
import { type Frame, TestClient, until } from '@session-gateway/test-kit'
import { startBrokerFixture } from './helpers/broker-fixture.js'
import type { FakeUserManager } from './helpers/fake-user-manager.js'
import { type StartedGateway, startGateway } from './helpers/gateway.js'

const SECRET = 'gateway-resume-test-secret-0123456789'

interface SessionData {
  sid: string
  resumeToken: string
  resumed: boolean
  replayed?: number
  reason?: string
}

/** Opens a connection (resuming when given a token) and takes its `session` frame. */
async function open(wsUrl: string, resume?: { token: string; lastSeq: number }) {
  const url = resume
    ? `${wsUrl}?resume=${encodeURIComponent(resume.token)}&last_seq=${resume.lastSeq}`
    : wsUrl
  const client = await TestClient.open(url)
  const frame = await client.waitFor(() => true, 5000, 'the first frame')
  assert.equal(frame.event, 'session', 'the first frame of a connection is the session frame')
  assert.equal(frame.seq, undefined)
  return { client, session: frame.data as SessionData }
}

const typesOf = (messages: Array<{ body: UmMessage }>, sid: string) =>
  messages.filter((m) => 'sid' in m.body && m.body.sid === sid).map((m) => m.body.type)

/** A User Manager on its own queue and a gateway with resume on (window `windowMs`); `stop` removes both. */
async function startResumeNode(windowMs: number) {
  const fixture = await startBrokerFixture({
    env: { SESSION_RESUME_WINDOW_MS: String(windowMs), GATEWAY_RESUME_SECRET: SECRET },
  })
  return { um: fixture.um, gw: fixture.gw, nodeId: fixture.nodeIds[0] as string, stop: fixture.close }
}

describe('resume over the real broker: same node, and what the UM hears', () => {
  let um: FakeUserManager
  let gw: StartedGateway
  let nodeId: string
  let node: string
  let stop: () => Promise<void> = async () => {}

  before(async () => {
    const started = await startResumeNode(60_000)
    ;({ um, gw, nodeId, stop } = started)
    node = gw.gateway.backend.nodeReplyTo
  })
  after(() => stop())

  it('a dropped connection: CLIENT_DETACHED, EMIT kept {delivered:0,kept:1}, rooms and SESSION_INFO kept, resume replays in order, CLIENT_RESUMED; each once', async () => {
    const { client, session } = await open(gw.wsUrl)
    const { sid } = session
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    assert.equal((await um.request(node, { type: 'JOIN', v: 1, sid, room: 'lobby' })).ok, true)
    const first = await um.request(node, { type: 'EMIT', v: 1, sid, event: 'news', data: 1 })
    assert.deepEqual(first.ok && first.data, { delivered: 1 })
    assert.deepEqual(await client.event('news'), { event: 'news', data: 1, seq: 1 })

    client.ws.terminate()
    const detached = await um.waitFor((m) => m.body.type === 'CLIENT_DETACHED' && m.body.sid === sid)
    assert.equal(detached.body.type === 'CLIENT_DETACHED' && detached.body.code, 1006)
    assert.equal(detached.replyTo, node)
    const kept = await um.request(node, { type: 'EMIT', v: 1, sid, event: 'news', data: 2 })
    assert.deepEqual(kept.ok && kept.data, { delivered: 0, kept: 1 })
    const room = await um.request(node, { type: 'ROOM_EMIT', v: 1, room: 'lobby', event: 'chat', data: 3 })
    assert.deepEqual(room.ok && room.data, { delivered: 0 })
    const info = await um.request(node, { type: 'SESSION_INFO', v: 1, sid })
    assert.ok(info.ok)
    assert.deepEqual(
      { rooms: info.data.rooms, detached: info.data.detached, sid: info.data.sid },
      {
        rooms: ['lobby'],
        detached: true,
        sid,
      },
    )

    const back = await open(gw.wsUrl, { token: session.resumeToken, lastSeq: 1 })
    assert.equal(back.session.sid, sid)
    assert.equal(back.session.resumed, true)
    assert.equal(back.session.replayed, 2)
    const replayed: Frame[] = [await back.client.event('news'), await back.client.event('chat')]
    assert.deepEqual(replayed, [
      { event: 'news', data: 2, seq: 2 },
      { event: 'chat', data: 3, seq: 3 },
    ])
    const resumed = await um.waitFor((m) => m.body.type === 'CLIENT_RESUMED' && m.body.sid === sid)
    assert.deepEqual(
      resumed.body.type === 'CLIENT_RESUMED' && {
        node: resumed.body.node,
        previousNode: resumed.body.previousNode,
        replayed: resumed.body.replayed,
      },
      { node: nodeId, previousNode: nodeId, replayed: 2 },
    )
    assert.equal(resumed.replyTo, node)
    const live = await um.request(node, { type: 'EMIT', v: 1, sid, event: 'news', data: 4 })
    assert.deepEqual(live.ok && live.data, { delivered: 1 })
    assert.deepEqual(await back.client.event('news'), { event: 'news', data: 4, seq: 4 })
    // Client events still reach the UM under the same SID.
    assert.deepEqual(await back.client.request('chat.send', { text: 'back' }), { id: 1, ok: true })

    await back.client.close()
    await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    // A later message on the same link: everything about `sid` before it has arrived.
    const marker = await open(gw.wsUrl)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === marker.session.sid)
    assert.deepEqual(typesOf(um.received, sid), [
      'CLIENT_CONNECTED',
      'CLIENT_DETACHED',
      'CLIENT_RESUMED',
      'CLIENT_EVENT',
      'CLIENT_DISCONNECTED',
    ])
    await marker.client.close()
  })

  it('a final close ends the session at once: one CLIENT_DISCONNECTED, no CLIENT_DETACHED; its token is expired', async () => {
    const { client, session } = await open(gw.wsUrl)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === session.sid)
    await client.close()
    const gone = await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === session.sid)
    assert.equal(gone.body.type === 'CLIENT_DISCONNECTED' && gone.body.code, 1000)
    const retry = await open(gw.wsUrl, { token: session.resumeToken, lastSeq: 0 })
    assert.equal(retry.session.reason, 'expired')
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === retry.session.sid)
    assert.deepEqual(typesOf(um.received, session.sid), ['CLIENT_CONNECTED', 'CLIENT_DISCONNECTED'])
    await retry.client.close()
  })

  it('DISCONNECT of a detached session ends it with its code and reason, once', async () => {
    const { client, session } = await open(gw.wsUrl)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === session.sid)
    client.ws.terminate()
    await um.waitFor((m) => m.body.type === 'CLIENT_DETACHED' && m.body.sid === session.sid)
    const result = await um.request(node, {
      type: 'DISCONNECT',
      v: 1,
      sid: session.sid,
      code: 4003,
      reason: 'banned',
    })
    assert.equal(result.ok, true)
    const gone = await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === session.sid)
    assert.deepEqual(gone.body.type === 'CLIENT_DISCONNECTED' && [gone.body.code, gone.body.reason], [
      4003,
      'banned',
    ])
    const after = await um.request(node, { type: 'EMIT', v: 1, sid: session.sid, event: 'x' })
    assert.equal(!after.ok && after.error.code, 'SESSION_NOT_FOUND')
  })
})

describe('resume window expiry over the real broker', () => {
  let um: FakeUserManager
  let gw: StartedGateway
  let stop: () => Promise<void> = async () => {}

  before(async () => {
    ;({ um, gw, stop } = await startResumeNode(100))
  })
  after(() => stop())

  it('the window ends: exactly one CLIENT_DISCONNECTED, with reason resume window expired', async () => {
    const { client, session } = await open(gw.wsUrl)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === session.sid)
    client.ws.terminate()
    const gone = await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === session.sid)
    assert.deepEqual(gone.body.type === 'CLIENT_DISCONNECTED' && [gone.body.code, gone.body.reason], [
      1006,
      'resume window expired',
    ])
    const marker = await open(gw.wsUrl)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === marker.session.sid)
    assert.deepEqual(typesOf(um.received, session.sid), [
      'CLIENT_CONNECTED',
      'CLIENT_DETACHED',
      'CLIENT_DISCONNECTED',
    ])
    await marker.client.close()
  })
})

describe('resume in embedded mode', () => {
  it('resumes with a random secret: same SID, missed frames replayed', async (t) => {
    const gw = await startGateway({ SESSION_RESUME_WINDOW_MS: '60000' })
    t.after(() => gw.gateway.close())
    const { client, session } = await open(gw.wsUrl)
    await client.event('demo.welcome')
    client.ws.terminate()
    await until(() => gw.gateway.app.wsSessions.get(session.sid)?.detached === true, {
      timeoutMs: 5000,
      what: 'detached',
    })
    assert.equal(gw.gateway.app.wsSessions.deliver(session.sid, 'news', 'while away'), 'kept')
    const back = await open(gw.wsUrl, { token: session.resumeToken, lastSeq: 1 })
    assert.equal(back.session.sid, session.sid)
    assert.equal(back.session.replayed, 1)
    assert.deepEqual(await back.client.event('news'), { event: 'news', data: 'while away', seq: 2 })
    await back.client.close()
  })
})
