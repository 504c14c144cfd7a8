import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient } from '@session-gateway/test-kit'
import { unique } from './helpers/broker.js'
import { type BrokerFixture, startBrokerFixture } from './helpers/broker-fixture.js'
import { BROKER, type FakeUserManager } from './helpers/fake-user-manager.js'
import type { StartedGateway } from './helpers/gateway.js'
import { TcpProxy } from './helpers/tcp-proxy.js'

describe('PROTOCOL.md over the real broker: gateway <-> User Manager / CI', () => {
  const umQueue = unique('test-um')
  const nodeId = unique('test-node')
  const broadcastKey = unique('test-bc')
  let um: FakeUserManager
  let fixture: BrokerFixture | undefined
  let gw: StartedGateway
  let nodeAddress: string
  // The gateway reaches the broker through this proxy, which passes everything unless a test holds
  // a direction (the broker's outcomes, to see what the gateway does before it has them).
  let proxy: TcpProxy

  before(async () => {
    proxy = await TcpProxy.start(BROKER.port, BROKER.host)
    fixture = await startBrokerFixture({
      umQueue,
      nodeIds: [nodeId],
      broadcast: `/topic/${broadcastKey}`,
      amqpUrl: `amqp://${BROKER.username}:${BROKER.password}@127.0.0.1:${proxy.port}`,
    })
    ;({ um, gw } = fixture)
    nodeAddress = gw.gateway.backend.nodeReplyTo
  })
  after(async () => {
    proxy?.release('toClient')
    await fixture?.close()
    await proxy?.close()
  })

  async function connect() {
    const client = await TestClient.open(gw.wsUrl)
    const sid = await client.sid()
    const connected = await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    return { client, sid, connected }
  }

  /**
   * The number of CLIENT_DISCONNECTEDs the UM got for `sid`, once everything the gateway sent before
   * now has arrived: a marker session opened and closed after it, on the same node -> UM link (one
   * ordered queue), reaches the UM after any earlier message for `sid`.
   */
  async function disconnectsOf(sid: string): Promise<number> {
    const marker = await connect()
    await marker.client.close()
    await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === marker.sid)
    return um.received.filter((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid).length
  }

  it('sends CLIENT_CONNECTED, durable, with reply_to = this node, content_type, subject and message_id', async () => {
    const { client, sid, connected } = await connect()
    assert.equal(connected.body.type, 'CLIENT_CONNECTED')
    if (connected.body.type !== 'CLIENT_CONNECTED') return
    assert.equal(connected.body.sid, sid)
    assert.equal(connected.body.node, nodeId)
    assert.equal(connected.body.v, 1)
    assert.ok(Math.abs(connected.body.ts - Date.now()) < 60_000)
    assert.equal(connected.body.meta.remoteAddress, '127.0.0.1')
    assert.equal(connected.replyTo, nodeAddress)
    assert.equal(connected.durable, true)
    assert.equal(connected.contentType, 'application/json')
    assert.equal(connected.subject, 'CLIENT_CONNECTED')
    assert.ok(connected.messageId)
    await client.close()
  })

  it('a burst of connects and one of disconnects (coalesced): each announced, durable, before its first event, whose ack follows; each told gone once', async () => {
    const clients = await Promise.all(Array.from({ length: 40 }, () => TestClient.open(gw.wsUrl)))
    const sids = await Promise.all(clients.map((c) => c.sid()))
    clients.forEach((c, i) => {
      c.send({ event: 'chat.send', data: { n: i }, id: i })
    })
    const acks = await Promise.all(clients.map((c, i) => c.reply(i)))
    assert.deepEqual(
      acks,
      clients.map((_, i) => ({ id: i, ok: true })),
    )
    for (const sid of sids) {
      await um.waitFor((m) => m.body.type === 'CLIENT_EVENT' && m.body.sid === sid)
      const order = um.received.filter((m) => 'sid' in m.body && m.body.sid === sid).map((m) => m.body.type)
      assert.deepEqual(order.slice(0, 2), ['CLIENT_CONNECTED', 'CLIENT_EVENT'], sid)
      const connected = um.received.find((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
      assert.equal(connected?.durable, true)
    }
    // And a burst of disconnects (coalesced too, outside the outbox bound): each told once, last.
    await Promise.all(clients.map((c) => c.close()))
    for (const sid of sids) {
      await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    }
    await disconnectsOf(sids[0] ?? '') // a marker after them all: anything more for these sids is in by now
    for (const sid of sids) {
      const order = um.received.filter((m) => 'sid' in m.body && m.body.sid === sid).map((m) => m.body.type)
      assert.deepEqual(order, ['CLIENT_CONNECTED', 'CLIENT_EVENT', 'CLIENT_DISCONNECTED'], sid)
    }
  })

  it('forwards a client event as CLIENT_EVENT and acks it only once the broker accepted it', async (t) => {
    const { client, sid } = await connect()
    // Hold everything the broker sends the gateway (its `accepted` among it): the event still
    // reaches the broker and the UM, but the gateway cannot know it was accepted.
    proxy.hold('toClient')
    t.after(() => proxy.release('toClient'))
    client.send({ event: 'chat.send', data: { text: 'hi' }, id: 2 })
    const event = await um.waitFor((m) => m.body.type === 'CLIENT_EVENT' && m.body.sid === sid)
    // A GET_SID round trip after it on the same WebSocket: a reply sent when the event was handled
    // (before the broker's outcome) would be here before GET_SID's answer.
    client.send({ event: 'GET_SID', id: 'barrier-1' })
    await client.reply('barrier-1')
    assert.deepEqual(
      client.frames.filter((f) => f.id === 2),
      [],
      'no reply before the broker accepted',
    )
    proxy.release('toClient')
    assert.deepEqual(await client.reply(2), { id: 2, ok: true })
    client.send({ event: 'GET_SID', id: 'barrier-2' })
    await client.reply('barrier-2')
    assert.deepEqual(
      client.frames.filter((f) => f.id === 2),
      [],
      'exactly one reply',
    )
    assert.deepEqual(
      { ...event.body, ts: 0 },
      {
        type: 'CLIENT_EVENT',
        v: 1,
        sid,
        node: nodeId,
        ts: 0,
        event: 'chat.send',
        data: { text: 'hi' },
        requestId: 2,
      },
    )
    assert.equal(event.replyTo, nodeAddress)
    assert.equal(event.durable, true)
    // Without id: forwarded, no reply, and `data` left out when the client sent none.
    client.send({ event: 'tick' })
    const tick = await um.waitFor(
      (m) => m.body.type === 'CLIENT_EVENT' && m.body.sid === sid && m.body.event === 'tick',
    )
    assert.equal('data' in tick.body, false)
    assert.equal('requestId' in tick.body, false)
    assert.equal(client.frames.filter((f) => f.id !== undefined).length, 0)
    await client.close()
  })

  it('EMIT reaches the session and answers RESULT {delivered:1}; an unknown SID gets SESSION_NOT_FOUND', async () => {
    const { client, sid } = await connect()
    const result = await um.request(nodeAddress, { type: 'EMIT', v: 1, sid, event: 'news', data: { n: 1 } })
    assert.deepEqual(result, { type: 'RESULT', v: 1, ok: true, data: { delivered: 1 } })
    assert.deepEqual((await client.event('news')).data, { n: 1 })
    const missing = await um.request(nodeAddress, { type: 'EMIT', v: 1, sid: 'A'.repeat(22), event: 'news' })
    assert.equal(missing.ok, false)
    if (!missing.ok) assert.equal(missing.error.code, 'SESSION_NOT_FOUND')
    await client.close()
  })

  it('JOIN, ROOM_EMIT (with exceptSid), LEAVE, SESSION_INFO', async () => {
    const a = await connect()
    const b = await connect()
    const room = unique('room')
    assert.deepEqual(await um.request(nodeAddress, { type: 'JOIN', v: 1, sid: a.sid, room }), {
      type: 'RESULT',
      v: 1,
      ok: true,
      data: {},
    })
    assert.equal((await um.request(nodeAddress, { type: 'JOIN', v: 1, sid: b.sid, room })).ok, true)
    const info = await um.request(nodeAddress, { type: 'SESSION_INFO', v: 1, sid: a.sid })
    assert.ok(info.ok)
    if (info.ok) {
      assert.equal(info.data.sid, a.sid)
      assert.equal(info.data.node, nodeId)
      assert.deepEqual(info.data.rooms, [room])
      assert.equal((info.data.meta as { remoteAddress: string }).remoteAddress, '127.0.0.1')
      assert.equal(typeof info.data.connectedAt, 'number')
    }
    const all = await um.request(nodeAddress, { type: 'ROOM_EMIT', v: 1, room, event: 'room.msg', data: 1 })
    assert.deepEqual(all, { type: 'RESULT', v: 1, ok: true, data: { delivered: 2 } })
    await a.client.event('room.msg')
    await b.client.event('room.msg')
    const except = await um.request(nodeAddress, {
      type: 'ROOM_EMIT',
      v: 1,
      room,
      event: 'room.msg2',
      exceptSid: a.sid,
    })
    assert.ok(except.ok && except.data.delivered === 1)
    await b.client.event('room.msg2')
    assert.equal((await um.request(nodeAddress, { type: 'LEAVE', v: 1, sid: b.sid, room })).ok, true)
    const after = await um.request(nodeAddress, { type: 'ROOM_EMIT', v: 1, room, event: 'room.msg3' })
    assert.ok(after.ok && after.data.delivered === 1)
    await a.client.event('room.msg3')
    assert.equal(
      a.client.frames.some((f) => f.event === 'room.msg2'),
      false,
    )
    assert.equal(
      b.client.frames.some((f) => f.event === 'room.msg3'),
      false,
    )
    const gone = await um.request(nodeAddress, { type: 'JOIN', v: 1, sid: 'B'.repeat(22), room })
    assert.ok(!gone.ok && gone.error.code === 'SESSION_NOT_FOUND')
    await Promise.all([a.client.close(), b.client.close()])
  })

  it('BROADCAST and PING', async () => {
    const a = await connect()
    const broadcast = await um.request(nodeAddress, { type: 'BROADCAST', v: 1, event: 'all', data: 'x' })
    assert.ok(broadcast.ok && (broadcast.data.delivered as number) >= 1)
    assert.equal((await a.client.event('all')).data, 'x')
    const ping = await um.request(nodeAddress, { type: 'PING', v: 1 })
    assert.ok(ping.ok)
    if (ping.ok) {
      assert.equal(ping.data.node, nodeId)
      assert.ok((ping.data.sessions as number) >= 1)
      assert.ok((ping.data.uptimeMs as number) >= 0)
      assert.match(String(ping.data.instance), /^[0-9a-f]{12}$/) // the answering process
    }
    await a.client.close()
  })

  it('DISCONNECT closes with the given code and reports CLIENT_DISCONNECTED exactly once', async () => {
    const { client, sid } = await connect()
    const result = await um.request(nodeAddress, {
      type: 'DISCONNECT',
      v: 1,
      sid,
      code: 4001,
      reason: 'kicked',
    })
    assert.deepEqual(result, { type: 'RESULT', v: 1, ok: true, data: {} })
    assert.deepEqual(await client.waitClosed(), { code: 4001, reason: 'kicked' })
    const [gone] = await um.waitForCount(
      (m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid,
      1,
    )
    assert.ok(gone && gone.body.type === 'CLIENT_DISCONNECTED')
    if (gone?.body.type === 'CLIENT_DISCONNECTED') {
      assert.equal(gone.body.code, 4001)
      assert.equal(gone.body.reason, 'kicked')
    }
    // DISCONNECT without a code closes with 1000.
    const second = await connect()
    await um.request(nodeAddress, { type: 'DISCONNECT', v: 1, sid: second.sid })
    assert.equal((await second.client.waitClosed()).code, 1000)
    assert.equal(await disconnectsOf(sid), 1, 'no second CLIENT_DISCONNECTED for the first session')
  })

  it('answers bad CI messages with a RESULT error and keeps working', async () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [{ type: 'FROBNICATE', v: 1 }, 'UNKNOWN_TYPE', /unknown type "FROBNICATE"/],
      [{ type: 'EMIT', v: 2, sid: 'A'.repeat(22), event: 'x' }, 'INVALID', /"v" must be 1/],
      [{ type: 'EMIT', v: 1, event: 'x' }, 'INVALID', /sid/],
      [{ type: 'DISCONNECT', v: 1, sid: 'A'.repeat(22), code: 1001 }, 'INVALID', /code/],
      [[1, 2, 3], 'INVALID', /JSON object/],
    ]
    for (const [body, code, pattern] of cases) {
      const result = await um.request(nodeAddress, body)
      assert.equal(result.ok, false, JSON.stringify(body))
      if (!result.ok) {
        assert.equal(result.error.code, code)
        assert.match(result.error.message, pattern)
      }
    }
    // A body that is not JSON at all (raw bytes in a data section).
    const raw = await um.send(
      nodeAddress,
      { typecode: 0x75, content: Buffer.from('{not json') },
      { reply: true, raw: true },
    )
    const [bad] = await um.waitResults(raw, 1)
    assert.ok(bad && !bad.ok && bad.error.code === 'INVALID')
    // Still working.
    const { client, sid } = await connect()
    assert.equal((await um.request(nodeAddress, { type: 'EMIT', v: 1, sid, event: 'ok' })).ok, true)
    await client.event('ok')
    await client.close()
  })

  it("refuses backend events named like the gateway's own frames (session, error, Socket.IO's connect...) with INVALID; the client never sees them", async () => {
    const { client, sid } = await connect()
    const room = unique('room')
    assert.equal((await um.request(nodeAddress, { type: 'JOIN', v: 1, sid, room })).ok, true)
    const fake = { sid: 'A'.repeat(22), resumeToken: 'x'.repeat(40), resumed: false }
    for (const event of ['session', 'error', 'connect', 'disconnect', 'connect_error']) {
      for (const body of [
        { type: 'EMIT', v: 1, sid, event, data: fake },
        { type: 'ROOM_EMIT', v: 1, room, event, data: fake },
        { type: 'BROADCAST', v: 1, event, data: fake },
        { type: 'EMIT_USER', v: 1, user: 'someone', event, data: fake },
      ]) {
        const result = await um.request(nodeAddress, body)
        assert.equal(result.ok, false, JSON.stringify(body))
        if (!result.ok) {
          assert.equal(result.error.code, 'INVALID')
          assert.match(
            result.error.message,
            /event must be 1-64 characters .* not one of session, error, connect/,
          )
        }
      }
    }
    // Names that only contain a reserved one are the backend's: the first frame the client gets is this one.
    assert.equal(
      (await um.request(nodeAddress, { type: 'EMIT', v: 1, sid, event: 'session.start', data: 1 })).ok,
      true,
    )
    const frame = (await client.next()) as { event: string; data: unknown }
    assert.deepEqual([frame.event, frame.data], ['session.start', 1])
    await client.close()
  })

  it('reports CLIENT_DISCONNECTED exactly once when the client closes, with its code', async () => {
    const { client, sid } = await connect()
    client.ws.close(4321, 'bye')
    await client.waitClosed()
    const gone = await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    assert.ok(
      gone.body.type === 'CLIENT_DISCONNECTED' && gone.body.code === 4321 && gone.body.reason === 'bye',
    )
    assert.equal(await disconnectsOf(sid), 1, 'exactly one CLIENT_DISCONNECTED')
  })
})
