import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { takeoverGranted } from '@session-gateway/message-schema'
import type { Frame } from '@session-gateway/test-kit'
import { unique } from './helpers/broker.js'
import { startGateway } from './helpers/gateway.js'
import { jwtFor, TEST_JWT_SECRET } from './helpers/jwt.js'
import { openSession, RESUME_SECRET, startResumeNodes, typesOf } from './helpers/resume-nodes.js'
import { TakeoverPeer } from './helpers/takeover-peer.js'

const dataOf = (frames: Frame[]) => frames.map((f) => [f.data, f.seq])

describe('cross-node takeover over the real broker (PROTOCOL.md 5.4)', () => {
  it('a session resumed on another node: replay in order, the old node forwards (answered once), the user index follows, one CLIENT_DISCONNECTED', async (t) => {
    const { um, nodes, stop } = await startResumeNodes(2)
    t.after(stop)
    const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const { client, session } = await openSession(n1.gw.wsUrl)
    const { sid } = session
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    assert.equal((await um.request(n1.address, { type: 'JOIN', v: 1, sid, room: 'lobby' })).ok, true)
    const first = await um.request(n1.address, { type: 'EMIT', v: 1, sid, event: 'news', data: 1 })
    assert.deepEqual(first.ok && first.data, { delivered: 1 })
    await client.event('news')
    client.ws.terminate()
    await um.waitFor((m) => m.body.type === 'CLIENT_DETACHED' && m.body.sid === sid)
    for (const data of [2, 3]) {
      const kept = await um.request(n1.address, { type: 'EMIT', v: 1, sid, event: 'news', data })
      assert.deepEqual(kept.ok && kept.data, { delivered: 0, kept: 1 })
    }

    const moved = await openSession(n2.gw.wsUrl, { token: session.resumeToken, lastSeq: 1 })
    assert.deepEqual(
      { sid: moved.session.sid, resumed: moved.session.resumed, replayed: moved.session.replayed },
      { sid, resumed: true, replayed: 2 },
    )
    assert.deepEqual(dataOf([await moved.client.event('news'), await moved.client.event('news')]), [
      [2, 2],
      [3, 3],
    ])
    const resumed = await um.waitFor((m) => m.body.type === 'CLIENT_RESUMED' && m.body.sid === sid)
    assert.deepEqual(
      resumed.body.type === 'CLIENT_RESUMED' && [
        resumed.body.node,
        resumed.body.previousNode,
        resumed.body.replayed,
      ],
      [n2.nodeId, n1.nodeId, 2],
    )
    assert.equal(resumed.replyTo, n2.address, 'reply_to names the node that holds it now')

    // A CI that still sends to the old node: forwarded, answered once as the holder answers.
    const forwarded = await um.request(n1.address, { type: 'EMIT', v: 1, sid, event: 'news', data: 4 })
    assert.deepEqual(forwarded.ok && forwarded.data, { delivered: 1 })
    assert.deepEqual(dataOf([await moved.client.event('news')]), [[4, 4]])
    assert.equal((await um.request(n1.address, { type: 'JOIN', v: 1, sid, room: 'second' })).ok, true)
    const info = await um.request(n1.address, { type: 'SESSION_INFO', v: 1, sid })
    assert.ok(info.ok)
    assert.equal(info.data.node, n2.nodeId)
    assert.deepEqual([...(info.data.rooms as string[])].sort(), ['lobby', 'second'])
    const onOld = await um.request(n1.address, { type: 'ROOM_INFO', v: 1, room: 'lobby' })
    const onNew = await um.request(n2.address, { type: 'ROOM_INFO', v: 1, room: 'lobby' })
    assert.deepEqual(onOld.ok && onOld.data.count, 0)
    assert.deepEqual(onNew.ok && onNew.data.count, 1)
    assert.equal(n1.gw.gateway.app.wsSessions.has(sid), false)
    const metrics = async (url: string) => (await fetch(`${url}/metrics`)).text()
    const newNode = await metrics(n2.gw.httpUrl)
    assert.match(newNode, /gateway_takeovers_total\{[^}]*event="requested"[^}]*\} 1\n/)
    assert.match(newNode, /gateway_takeovers_total\{[^}]*event="granted"[^}]*\} 1\n/)
    const oldNode = await metrics(n1.gw.httpUrl)
    assert.match(oldNode, /gateway_takeovers_total\{[^}]*event="handed-over"[^}]*\} 1\n/)
    assert.match(oldNode, /gateway_forwarded_total\{[^}]*outcome="forwarded"[^}]*\} 3\n/)

    await moved.client.close()
    await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    const marker = await openSession(n1.gw.wsUrl)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === marker.session.sid)
    const marker2 = await openSession(n2.gw.wsUrl)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === marker2.session.sid)
    assert.deepEqual(typesOf(um.received, sid), [
      'CLIENT_CONNECTED',
      'CLIENT_DETACHED',
      'CLIENT_RESUMED',
      'CLIENT_DISCONNECTED',
    ])
    const ended = um.received.find((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    assert.equal(ended?.body.type === 'CLIENT_DISCONNECTED' && ended.body.node, n2.nodeId)
    await marker.client.close()
    await marker2.client.close()
  })

  it('frames lost with a dying connection are replayed on the other node (last_seq lower than sent); the old connection is closed 1000', async (t) => {
    const { um, nodes, stop } = await startResumeNodes(2)
    t.after(stop)
    const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const { client, session } = await openSession(n1.gw.wsUrl)
    const { sid } = session
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    for (const data of [1, 2, 3]) {
      const sent = await um.request(n1.address, { type: 'EMIT', v: 1, sid, event: 'e', data })
      assert.deepEqual(sent.ok && sent.data, { delivered: 1 })
    }
    // The client saw only the first one; 2 and 3 were "lost" on the wire of a connection still open.
    const moved = await openSession(n2.gw.wsUrl, { token: session.resumeToken, lastSeq: 1 })
    assert.equal(moved.session.sid, sid)
    assert.equal(moved.session.replayed, 2)
    assert.deepEqual(dataOf([await moved.client.event('e'), await moved.client.event('e')]), [
      [2, 2],
      [3, 3],
    ])
    assert.deepEqual(await client.waitClosed(), { code: 1000, reason: 'session resumed elsewhere' })
    await moved.client.close()
    await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    assert.deepEqual(typesOf(um.received, sid), ['CLIENT_CONNECTED', 'CLIENT_RESUMED', 'CLIENT_DISCONNECTED'])
  })

  it('the window runs out on the new node: exactly one CLIENT_DISCONNECTED, from the new node', async (t) => {
    const { um, nodes, stop } = await startResumeNodes(2, {}, [{}, { SESSION_RESUME_WINDOW_MS: '400' }])
    t.after(stop)
    const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const { client, session } = await openSession(n1.gw.wsUrl)
    const { sid } = session
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    client.ws.terminate()
    await um.waitFor((m) => m.body.type === 'CLIENT_DETACHED' && m.body.sid === sid)
    const moved = await openSession(n2.gw.wsUrl, { token: session.resumeToken, lastSeq: 0 })
    assert.equal(moved.session.resumed, true)
    moved.client.ws.terminate()
    const ended = await um.waitFor(
      (m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid,
      5000,
      'the window to run out',
    )
    assert.equal(ended.body.type === 'CLIENT_DISCONNECTED' && ended.body.reason, 'resume window expired')
    assert.equal(ended.body.type === 'CLIENT_DISCONNECTED' && ended.body.node, n2.nodeId)
    // Anything n1 would still send about the session comes before a later message of n1.
    const marker = await openSession(n1.gw.wsUrl)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === marker.session.sid)
    assert.deepEqual(typesOf(um.received, sid), [
      'CLIENT_CONNECTED',
      'CLIENT_DETACHED',
      'CLIENT_RESUMED',
      'CLIENT_DETACHED',
      'CLIENT_DISCONNECTED',
    ])
    await marker.client.close()
  })

  it('tokens across nodes: forged, altered, reused, of another deployment or another user never resume and leave the real session undisturbed', async (t) => {
    const auth = { AUTH_JWT_SECRET: TEST_JWT_SECRET }
    const { um, nodes, stop } = await startResumeNodes(2, auth)
    t.after(stop)
    const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const alice = { authorization: `Bearer ${await jwtFor('alice')}` }
    const bob = { authorization: `Bearer ${await jwtFor('bob')}` }
    const { client, session } = await openSession(n1.gw.wsUrl, undefined, alice)
    const { sid } = session
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    client.ws.terminate()
    await um.waitFor((m) => m.body.type === 'CLIENT_DETACHED' && m.body.sid === sid)

    const refused = async (token: string, headers: Record<string, string>) => {
      const attempt = await openSession(n2.gw.wsUrl, { token, lastSeq: 0 }, headers)
      assert.notEqual(attempt.session.sid, sid)
      assert.equal(attempt.session.resumed, false)
      await attempt.client.close()
      return attempt.session.reason
    }
    const token = session.resumeToken
    const flipped = `${token.slice(0, -2)}${token.at(-2) === 'A' ? 'B' : 'A'}${token.at(-1)}`
    assert.equal(await refused('x'.repeat(43), alice), 'invalid', 'forged')
    assert.equal(await refused(flipped, alice), 'invalid', 'altered')
    assert.equal(await refused(token, bob), 'invalid', 'another user')
    // A node of another deployment (another secret) issues a token naming n1's node id.
    const other = await startGateway({
      AMQP_URL: n1.gw.gateway.config.bridge.url?.join(',') ?? '',
      GATEWAY_NODE_ID: n1.nodeId,
      UM_ADDRESS: `/queue/${unique('test-um-other')}`,
      BROADCAST_ADDRESS: `/topic/${unique('test-bc')}`,
      SESSION_RESUME_WINDOW_MS: '60000',
      GATEWAY_RESUME_SECRET: `${RESUME_SECRET}-other-deployment`,
      GATEWAY_NODE_HEARTBEAT_MS: '0',
      ...auth,
    }).catch(() => undefined)
    if (other) {
      const foreign = await openSession(other.wsUrl, undefined, alice)
      await foreign.client.close()
      await other.gateway.close()
      assert.equal(await refused(foreign.session.resumeToken, alice), 'invalid', 'other deployment')
    }
    // The real session is still there, detached, and its token still resumes it (on n2).
    assert.equal(n1.gw.gateway.app.wsSessions.get(sid)?.detached, true)
    const moved = await openSession(n2.gw.wsUrl, { token, lastSeq: 0 }, alice)
    assert.deepEqual([moved.session.sid, moved.session.resumed], [sid, true])
    // Used once: the same token again (on either node) is expired.
    assert.equal(await refused(token, alice), 'expired', 'reused on the new node')
    const again = await openSession(n1.gw.wsUrl, { token, lastSeq: 0 }, alice)
    assert.equal(again.session.reason, 'expired', 'reused on the old node')
    await again.client.close()
    assert.equal(n2.gw.gateway.app.wsSessions.get(sid)?.isOpen, true, 'the resumed session is undisturbed')
    // The user index moved with the session: alice's session is listed by the new node only.
    const userOn = async (address: string) => {
      const answer = await um.request(address, { type: 'USER_INFO', v: 1, user: 'alice' })
      assert.ok(answer.ok)
      return (answer.data.sessions as Array<{ sid: string }>).map((x) => x.sid)
    }
    assert.deepEqual(await userOn(n1.address), [])
    assert.deepEqual(await userOn(n2.address), [sid])
    await moved.client.close()
  })
})

describe('takeover bounds: a holder that does not answer', () => {
  it('past GATEWAY_TAKEOVER_TIMEOUT_MS the client gets a new session (unavailable); a grant that comes later is kept detached and ends once', async (t) => {
    const { um, nodes, stop, queues } = await startResumeNodes(2, {}, [
      {},
      { GATEWAY_TAKEOVER_TIMEOUT_MS: '300', SESSION_RESUME_WINDOW_MS: '1500' },
    ])
    t.after(stop)
    const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    // A real token of a node that is gone, whose takeover address a bare peer now consumes and never
    // answers (a node that hangs).
    const silentId = unique('test-silent')
    const silent = await startGateway({
      AMQP_URL: n1.gw.gateway.config.bridge.url?.join(',') ?? '',
      GATEWAY_NODE_ID: silentId,
      UM_ADDRESS: `/queue/${unique('test-um-silent')}`,
      BROADCAST_ADDRESS: `/topic/${unique('test-bc')}`,
      SESSION_RESUME_WINDOW_MS: '60000',
      GATEWAY_RESUME_SECRET: RESUME_SECRET,
      GATEWAY_NODE_HEARTBEAT_MS: '0',
    })
    queues.push(`gateway.node.${silentId}`, `gateway.takeover.${silentId}`)
    const held = await openSession(silent.wsUrl)
    await held.client.close()
    await silent.gateway.close()
    const peer = await TakeoverPeer.start(`gateway.takeover.${silentId}`)
    t.after(() => peer.close())

    const attempt = await openSession(n2.gw.wsUrl, { token: held.session.resumeToken, lastSeq: 0 })
    assert.equal(attempt.session.resumed, false)
    assert.equal(attempt.session.reason, 'unavailable')
    const { request, replyTo } = await peer.nextRequest()
    assert.equal(request.node, n2.nodeId)
    assert.equal(request.nodeAddress, n2.address)
    assert.ok(replyTo)
    assert.ok(request.expiresAt <= Date.now(), 'the requester gave up')

    // The late grant: the session must not end up on neither node.
    const lateSid = held.session.sid
    await peer.send(
      replyTo,
      takeoverGranted({
        requestId: request.requestId,
        node: silentId,
        snapshot: {
          sid: lateSid,
          connectedAt: Date.now() - 1000,
          rooms: ['lobby'],
          remoteAddress: '127.0.0.1',
          nextSeq: 1,
          generation: 1,
          frames: [],
        },
      }),
    )
    await um.waitFor((m) => m.body.type === 'CLIENT_RESUMED' && m.body.sid === lateSid)
    const info = await um.request(n2.address, { type: 'SESSION_INFO', v: 1, sid: lateSid })
    assert.ok(info.ok)
    assert.deepEqual([info.data.detached, info.data.rooms], [true, ['lobby']])
    const ended = await um.waitFor(
      (m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === lateSid,
      5000,
      'its window to run out on n2',
    )
    assert.equal(ended.body.type === 'CLIENT_DISCONNECTED' && ended.body.node, n2.nodeId)
    const marker = await openSession(n2.gw.wsUrl)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === marker.session.sid)
    assert.deepEqual(typesOf(um.received, lateSid), [
      'CLIENT_RESUMED',
      'CLIENT_DETACHED',
      'CLIENT_DISCONNECTED',
    ])
    await marker.client.close()
    await attempt.client.close()
  })
})
