import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { until } from '@session-gateway/test-kit'
import type { Socket } from 'socket.io-client'
import WebSocket from 'ws'
import { deleteQueues, unique } from './helpers/broker.js'
import { BROKER_URL, FakeUserManager } from './helpers/fake-user-manager.js'
import { type StartedGateway, startGateway } from './helpers/gateway.js'
import { jwtFor, TEST_JWT_SECRET } from './helpers/jwt.js'
import { PythonSioClient, pythonSocketIoMissing } from './helpers/python-sio.js'
import { startResumeNodes } from './helpers/resume-nodes.js'
import { connected, nextEvent, recordEvents, sioConnect } from './helpers/sio-client.js'

const SID = /^[A-Za-z0-9_-]{22,}$/
const pythonMissing = pythonSocketIoMissing()

/** A User Manager on its own queue and a gateway with the Socket.IO endpoint on; `stop` removes both. */
async function startSioNode(env: Record<string, string> = {}) {
  const umQueue = unique('test-um')
  const nodeId = unique('test-node')
  const um = await FakeUserManager.start(`/queue/${umQueue}`)
  const gw = await startGateway({
    AMQP_URL: BROKER_URL,
    UM_ADDRESS: `/queue/${umQueue}`,
    BROADCAST_ADDRESS: `/topic/${unique('test-bc')}`,
    GATEWAY_NODE_ID: nodeId,
    GATEWAY_SOCKETIO: 'true',
    ...env,
  })
  await until(() => gw.gateway.backend.state === 'open', { timeoutMs: 10_000, what: 'bridge open' })
  return {
    um,
    gw,
    nodeId,
    node: gw.gateway.backend.nodeReplyTo,
    async stop() {
      await gw.gateway.close()
      await um.close()
      await deleteQueues([umQueue, `gateway.node.${nodeId}`, um.replyQueue])
    },
  }
}

describe('Socket.IO endpoint: socket.io-client v4 over the real broker, authentication on', () => {
  let um: FakeUserManager
  let gw: StartedGateway
  let node: string
  let stop: () => Promise<void> = async () => {}

  before(async () => {
    ;({ um, gw, node, stop } = await startSioNode({ AUTH_JWT_SECRET: TEST_JWT_SECRET }))
  })
  after(() => stop())

  for (const transports of [['websocket'], ['polling', 'websocket']] as const) {
    const name = transports.length === 1 ? 'websocket' : 'polling, then upgraded to websocket'
    it(`${name}: a session with the JWT's user, emit with ack reaches the UM, EMIT / ROOM_EMIT / BROADCAST / EMIT_USER arrive`, async () => {
      const user = unique('alice')
      const socket = sioConnect(gw.httpUrl, {
        transports: [...transports],
        auth: { token: await jwtFor(user) },
      })
      await connected(socket)
      const sid = socket.id as string
      assert.match(sid, SID, 'socket.id is the session id the UM sees')
      const hello = await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
      assert.equal(hello.body.type === 'CLIENT_CONNECTED' && hello.body.meta.user?.sub, user)
      if (transports.length === 2) {
        await until(() => socket.io.engine.transport.name === 'websocket', {
          timeoutMs: 5000,
          what: 'the upgrade to websocket',
        })
      }

      const ack = await socket.timeout(5000).emitWithAck('chat.send', { text: 'hi' })
      assert.deepEqual(ack, { ok: true })
      const event = await um.waitFor((m) => m.body.type === 'CLIENT_EVENT' && m.body.sid === sid)
      assert.deepEqual(
        event.body.type === 'CLIENT_EVENT' && [
          event.body.event,
          event.body.data,
          typeof event.body.requestId,
        ],
        ['chat.send', { text: 'hi' }, 'number'],
      )
      // GET_SID, the reserved event, answers through the ack as well.
      assert.deepEqual(await socket.timeout(5000).emitWithAck('GET_SID'), { ok: true, data: { sid } })

      const seen = recordEvents(socket)
      const emitted = await um.request(node, { type: 'EMIT', v: 1, sid, event: 'news', data: { n: 1 } })
      assert.deepEqual(emitted.ok && emitted.data, { delivered: 1 })
      assert.equal((await um.request(node, { type: 'JOIN', v: 1, sid, room: 'lobby' })).ok, true)
      const info = await um.request(node, { type: 'SESSION_INFO', v: 1, sid })
      assert.deepEqual(info.ok && info.data.rooms, ['lobby'])
      const room = await um.request(node, {
        type: 'ROOM_EMIT',
        v: 1,
        room: 'lobby',
        event: 'chat',
        data: 'x',
      })
      assert.deepEqual(room.ok && room.data, { delivered: 1 })
      await um.request(node, { type: 'BROADCAST', v: 1, event: 'all', data: [1, 2] })
      await um.request(node, { type: 'EMIT_USER', v: 1, user, event: 'mine' })
      await until(() => seen.length === 4, { timeoutMs: 5000, what: 'four events' })
      assert.deepEqual(seen, [['news', { n: 1 }], ['chat', 'x'], ['all', [1, 2]], ['mine']])
      socket.disconnect()
      const gone = await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
      assert.equal(gone.body.type === 'CLIENT_DISCONNECTED' && gone.body.code, 1000)
    })
  }

  it('a bad or missing token is a connect_error with a message, and no session exists', async () => {
    const before = gw.gateway.app.wsSessions.stats.sessionsOpened
    const forged = sioConnect(gw.httpUrl, { auth: { token: 'not-a-jwt' } })
    const refused = await connected(forged).then(
      () => undefined,
      (err: Error & { data?: unknown }) => err,
    )
    assert.ok(refused, 'the connection was refused')
    assert.match(refused.message, /authentication failed/)
    assert.deepEqual(refused.data, { code: 'UNAUTHORIZED' })
    forged.close()
    const none = sioConnect(gw.httpUrl)
    const missing = await connected(none).then(
      () => undefined,
      (err: Error) => err,
    )
    assert.match(missing?.message ?? '', /no token/)
    none.close()
    assert.equal(gw.gateway.app.wsSessions.stats.sessionsOpened, before)
  })

  it('another namespace is refused with connect_error (main namespace only)', async () => {
    const token = await jwtFor(unique('bob'))
    const admin = sioConnect(gw.httpUrl, { auth: { token } }, '/admin')
    const err = await connected(admin).then(
      () => undefined,
      (e: Error) => e,
    )
    assert.match(err?.message ?? '', /Invalid namespace/)
    admin.close()
  })

  it('DISCONNECT from the CI: gateway.close with its code, then "io server disconnect"; CLIENT_DISCONNECTED with that code', async () => {
    const socket = sioConnect(gw.httpUrl, { auth: { token: await jwtFor(unique('carol')) } })
    await connected(socket)
    const sid = socket.id as string
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    const closing = nextEvent(socket, 'gateway.close')
    const disconnected = nextEvent(socket, 'disconnect')
    await um.request(node, { type: 'DISCONNECT', v: 1, sid, code: 4001, reason: 'kicked' })
    assert.deepEqual(await closing, [{ code: 4001, reason: 'kicked' }])
    assert.equal((await disconnected)[0], 'io server disconnect')
    const gone = await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    assert.deepEqual(gone.body.type === 'CLIENT_DISCONNECTED' && [gone.body.code, gone.body.reason], [
      4001,
      'kicked',
    ])
  })

  it('a binary attachment is refused through its ack (BAD_FRAME), and is not forwarded', async () => {
    const socket = sioConnect(gw.httpUrl, { auth: { token: await jwtFor(unique('dave')) } })
    await connected(socket)
    const sid = socket.id as string
    const seen = recordEvents(socket)
    const ack = await socket.timeout(5000).emitWithAck('upload', Buffer.from([1, 2, 3]))
    assert.equal(ack.ok, false)
    assert.equal(ack.error.code, 'BAD_FRAME')
    assert.equal(ack.error.message, 'binary attachments are not accepted: the gateway carries JSON only')
    assert.deepEqual(await socket.timeout(5000).emitWithAck('after.binary', 1), { ok: true })
    assert.deepEqual(seen, [], 'one refusal (the ack), nothing for the attachment')
    // Without an ack: an error event.
    socket.emit('upload', Buffer.from([4]))
    await until(() => seen.length === 1, { timeoutMs: 5000, what: 'the error event' })
    assert.deepEqual(seen, [
      [
        'error',
        { code: 'BAD_FRAME', message: 'binary attachments are not accepted: the gateway carries JSON only' },
      ],
    ])
    // An ack says the broker accepted the event, not that the UM has it yet. The session's
    // CLIENT_DISCONNECTED follows its events on the same link: once it is in, so is every event.
    socket.disconnect()
    await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    const events = um.received.filter((m) => m.body.type === 'CLIENT_EVENT' && m.body.sid === sid)
    assert.deepEqual(
      events.map((m) => m.body.type === 'CLIENT_EVENT' && m.body.event),
      ['after.binary'],
    )
  })

  for (const transports of ['websocket', 'polling']) {
    it(`python-socketio 5 (${transports}): auth, emit with ack, EMIT and ROOM_EMIT, disconnect ends the session`, {
      skip: pythonMissing,
    }, async () => {
      const user = unique('py')
      const py = new PythonSioClient(gw.httpUrl, await jwtFor(user), transports)
      try {
        const hello = await py.waitFor((l) => 'connected' in l || 'failed' in l, 'connected')
        const sid = hello.connected as string
        assert.match(sid, SID, `connected: ${JSON.stringify(hello)}`)
        const connectedMsg = await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
        assert.equal(connectedMsg.body.type === 'CLIENT_CONNECTED' && connectedMsg.body.meta.user?.sub, user)
        py.send({ op: 'emit', event: 'py.hello', data: { x: 1 } })
        assert.deepEqual((await py.waitFor((l) => 'ack' in l, 'the ack')).ack, { ok: true })
        const event = await um.waitFor((m) => m.body.type === 'CLIENT_EVENT' && m.body.sid === sid)
        assert.deepEqual(event.body.type === 'CLIENT_EVENT' && [event.body.event, event.body.data], [
          'py.hello',
          { x: 1 },
        ])
        await um.request(node, { type: 'EMIT', v: 1, sid, event: 'news', data: 'for python' })
        assert.equal((await um.request(node, { type: 'JOIN', v: 1, sid, room: 'py-room' })).ok, true)
        await um.request(node, { type: 'ROOM_EMIT', v: 1, room: 'py-room', event: 'chat', data: { n: 2 } })
        await py.waitFor((l) => l.event === 'chat', 'the ROOM_EMIT')
        assert.deepEqual(
          py.lines.filter((l) => 'event' in l),
          [
            { event: 'news', args: ['for python'] },
            { event: 'chat', args: [{ n: 2 }] },
          ],
        )
        py.send({ op: 'disconnect' })
        const gone = await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
        // python-socketio 5.7 closes its websocket right after queueing the DISCONNECT packet, which is then
        // often never written: the gateway sees a dropped connection (1006). Over polling it always arrives.
        const codes = transports === 'polling' ? [1000] : [1000, 1006]
        assert.ok(
          gone.body.type === 'CLIENT_DISCONNECTED' && codes.includes(gone.body.code),
          JSON.stringify(gone.body),
        )
      } finally {
        await py.close()
      }
    })
  }

  it('python-socketio 5: a bad token is a connect error with the message', {
    skip: pythonMissing,
  }, async () => {
    const py = new PythonSioClient(gw.httpUrl, 'forged', 'websocket')
    try {
      const refused = await py.waitFor((l) => 'connect_error' in l, 'connect_error')
      assert.match(JSON.stringify(refused.connect_error), /authentication failed/)
      await py.waitFor((l) => 'failed' in l, 'connect() failing')
    } finally {
      await py.close()
    }
  })
})

const RESUME_SECRET = 'gateway-socketio-resume-secret-0123456789'

/** A socket's Socket.IO recovery id (socket.io-client keeps it private). */
function pidOf(socket: Socket): string | undefined {
  return (socket as unknown as { _pid?: string })._pid
}

describe('Socket.IO connection state recovery rides on resume (same node, real broker, authentication on)', () => {
  let um: FakeUserManager
  let gw: StartedGateway
  let node: string
  let nodeId: string
  let stop: () => Promise<void> = async () => {}

  before(async () => {
    ;({ um, gw, node, nodeId, stop } = await startSioNode({
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      SESSION_RESUME_WINDOW_MS: '60000',
      GATEWAY_RESUME_SECRET: RESUME_SECRET,
    }))
  })
  after(() => stop())

  it('a dropped connection: events sent meanwhile are replayed in order after the reconnect, socket.recovered is true, same id and rooms', async () => {
    const user = unique('erin')
    const socket = sioConnect(gw.httpUrl, { auth: { token: await jwtFor(user) } })
    await connected(socket)
    assert.equal(socket.recovered, false)
    const sid = socket.id as string
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    const seen = recordEvents(socket)
    assert.equal((await um.request(node, { type: 'JOIN', v: 1, sid, room: 'lobby' })).ok, true)
    await um.request(node, { type: 'EMIT', v: 1, sid, event: 'news', data: 1 })
    await until(() => seen.length === 1, { timeoutMs: 5000, what: 'the first event' })
    // Socket.IO's offset (its last argument) is the event's seq.
    assert.deepEqual(seen[0], ['news', 1, '1'])

    const dropped = nextEvent(socket, 'disconnect')
    socket.io.engine.close() // the connection drops (the client's way of simulating it)
    assert.equal((await dropped)[0], 'forced close')
    await um.waitFor((m) => m.body.type === 'CLIENT_DETACHED' && m.body.sid === sid)
    const kept = await um.request(node, { type: 'EMIT', v: 1, sid, event: 'news', data: 2 })
    assert.deepEqual(kept.ok && kept.data, { delivered: 0, kept: 1 })
    await um.request(node, { type: 'ROOM_EMIT', v: 1, room: 'lobby', event: 'chat', data: 3 })

    socket.connect()
    await connected(socket)
    assert.equal(socket.recovered, true)
    assert.equal(socket.id, sid)
    await until(() => seen.length === 3, { timeoutMs: 5000, what: 'the replayed events' })
    assert.deepEqual(seen.slice(1), [
      ['news', 2, '2'],
      ['chat', 3, '3'],
    ])
    const resumed = await um.waitFor((m) => m.body.type === 'CLIENT_RESUMED' && m.body.sid === sid)
    assert.deepEqual(
      resumed.body.type === 'CLIENT_RESUMED' && [resumed.body.previousNode, resumed.body.replayed],
      [nodeId, 2],
    )
    await um.request(node, { type: 'ROOM_EMIT', v: 1, room: 'lobby', event: 'chat', data: 4 })
    await until(() => seen.length === 4, { timeoutMs: 5000, what: 'a live event' })
    assert.deepEqual(seen[3], ['chat', 4, '4'])
    assert.deepEqual(await socket.timeout(5000).emitWithAck('chat.send', 'back'), { ok: true })
    socket.disconnect()
    await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
  })

  it('a session that ended is not recovered: socket.recovered false, a new id (resume said resumed:false)', async () => {
    const socket = sioConnect(gw.httpUrl, { auth: { token: await jwtFor(unique('frank')) } })
    await connected(socket)
    const sid = socket.id as string
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    socket.io.engine.close()
    await um.waitFor((m) => m.body.type === 'CLIENT_DETACHED' && m.body.sid === sid)
    await um.request(node, { type: 'DISCONNECT', v: 1, sid, code: 4002, reason: 'ended' })
    await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    socket.connect()
    await connected(socket)
    assert.equal(socket.recovered, false)
    assert.notEqual(socket.id, sid)
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === socket.id)
    socket.disconnect()
  })

  it("another user presenting a session's pid gets a new session; the session is untouched", async () => {
    const victim = sioConnect(gw.httpUrl, { auth: { token: await jwtFor(unique('grace')) } })
    await connected(victim)
    const sid = victim.id as string
    const pid = pidOf(victim)
    assert.ok(pid)
    const thief = sioConnect(gw.httpUrl, {
      auth: { token: await jwtFor(unique('mallory')) },
      autoConnect: false,
    })
    ;(thief as unknown as { _pid: string; _lastOffset: string })._pid = pid
    thief.connect()
    await connected(thief)
    assert.equal(thief.recovered, false)
    assert.notEqual(thief.id, sid)
    const seen = recordEvents(victim)
    await um.request(node, { type: 'EMIT', v: 1, sid, event: 'still', data: 'mine' })
    await until(() => seen.length === 1, { timeoutMs: 5000, what: 'the victim still gets its events' })
    assert.deepEqual(seen[0], ['still', 'mine', '1'])
    thief.disconnect()
    victim.disconnect()
  })
})

describe("Socket.IO sessions keep the native endpoint's limits (real broker, authentication on)", () => {
  let um: FakeUserManager
  let gw: StartedGateway
  let stop: () => Promise<void> = async () => {}

  before(async () => {
    ;({ um, gw, stop } = await startSioNode({
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      SESSION_MAX_PER_CLIENT: '1',
      SESSION_RATE_PER_SEC: '1',
      SESSION_RATE_BURST: '2',
    }))
  })
  after(() => stop())

  it("a user's second session past SESSION_MAX_PER_CLIENT is a connect_error with the upgrade's code", async () => {
    const token = await jwtFor(unique('hank'))
    const first = sioConnect(gw.httpUrl, { auth: { token } })
    await connected(first)
    const second = sioConnect(gw.httpUrl, { auth: { token } })
    const err = await connected(second).then(
      () => undefined,
      (e: Error & { data?: unknown }) => e,
    )
    assert.match(err?.message ?? '', /too many sessions for this client/)
    assert.deepEqual(err?.data, { code: 'TOO_MANY_CLIENT_SESSIONS' })
    second.close()
    first.disconnect()
  })

  it('the rate limit answers RATE_LIMITED through the ack, and the refused event is not forwarded', async () => {
    const socket = sioConnect(gw.httpUrl, { auth: { token: await jwtFor(unique('ivy')) } })
    await connected(socket)
    const sid = socket.id as string
    const acks = await Promise.all([1, 2, 3].map((n) => socket.timeout(5000).emitWithAck('burst', n)))
    assert.deepEqual(acks.slice(0, 2), [{ ok: true }, { ok: true }])
    assert.equal(acks[2].ok, false)
    assert.equal(acks[2].error.code, 'RATE_LIMITED')
    // The acks say the broker accepted the events, not that the UM has them: CLIENT_DISCONNECTED,
    // after them on the same link, marks the point where every forwarded event is in.
    socket.disconnect()
    await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    const forwarded = um.received.filter((m) => m.body.type === 'CLIENT_EVENT' && m.body.sid === sid)
    assert.deepEqual(
      forwarded.map((m) => m.body.type === 'CLIENT_EVENT' && m.body.data),
      [1, 2],
    )
  })

  it('a node shutting down: gateway.close 1001, then the connection closes without DISCONNECT (the client would reconnect); CLIENT_DISCONNECTED 1001', async () => {
    const socket = sioConnect(gw.httpUrl, { auth: { token: await jwtFor(unique('jack')) } })
    await connected(socket)
    const sid = socket.id as string
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    const closing = nextEvent(socket, 'gateway.close')
    const disconnected = nextEvent(socket, 'disconnect')
    await gw.gateway.close()
    // The reason is the sessions plugin's ('server shutting down'), or the gateway's when the session's
    // CLIENT_CONNECTED was still awaiting the broker's accept ('the node is shutting down').
    const [close] = (await closing) as [{ code: number; reason: string }]
    assert.equal(close.code, 1001)
    assert.match(close.reason, /shutting down/)
    assert.equal((await disconnected)[0], 'transport close')
    const gone = await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    assert.equal(gone.body.type === 'CLIENT_DISCONNECTED' && gone.body.code, 1001)
  })
})

describe('Socket.IO connection state recovery across two nodes over RabbitMQ (the cross-node takeover)', () => {
  it('dropped on node 1, reconnected to node 2: socket.recovered, the same id, the missed events in order; the UM hears CLIENT_RESUMED from node 2', async (t) => {
    const { um, nodes, stop } = await startResumeNodes(2, {
      GATEWAY_SOCKETIO: 'true',
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
    })
    t.after(stop)
    const [n1, n2] = nodes as [(typeof nodes)[0], (typeof nodes)[0]]
    const token = await jwtFor(unique('kim'))
    // One socket.io-client socket whose reconnection goes to node 2: its Manager's URL is switched
    // after the drop (a load balancer sending the reconnect elsewhere).
    const socket = sioConnect(n1.gw.httpUrl, { auth: { token } })
    await connected(socket)
    const sid = socket.id as string
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    const seen = recordEvents(socket)
    assert.equal((await um.request(n1.address, { type: 'JOIN', v: 1, sid, room: 'lobby' })).ok, true)
    await um.request(n1.address, { type: 'EMIT', v: 1, sid, event: 'news', data: 1 })
    await until(() => seen.length === 1, { timeoutMs: 5000, what: 'the first event' })

    socket.io.engine.close()
    await um.waitFor((m) => m.body.type === 'CLIENT_DETACHED' && m.body.sid === sid)
    await um.request(n1.address, { type: 'EMIT', v: 1, sid, event: 'news', data: 2 })
    await um.request(n1.address, { type: 'ROOM_EMIT', v: 1, room: 'lobby', event: 'chat', data: 3 })

    ;(socket.io as unknown as { uri: string }).uri = n2.gw.httpUrl
    socket.connect()
    await connected(socket)
    assert.equal(socket.recovered, true)
    assert.equal(socket.id, sid)
    await until(() => seen.length === 3, { timeoutMs: 5000, what: 'the replayed events' })
    assert.deepEqual(seen, [
      ['news', 1, '1'],
      ['news', 2, '2'],
      ['chat', 3, '3'],
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
    assert.equal(n2.gw.gateway.app.wsSessions.has(sid), true, 'node 2 holds the session now')
    assert.equal(n1.gw.gateway.app.wsSessions.has(sid), false)
    // Live, from node 2 (the room came along), and a client event acknowledged there.
    await um.request(n2.address, { type: 'ROOM_EMIT', v: 1, room: 'lobby', event: 'chat', data: 4 })
    await until(() => seen.length === 4, { timeoutMs: 5000, what: 'a live event from node 2' })
    assert.deepEqual(seen[3], ['chat', 4, '4'])
    assert.deepEqual(await socket.timeout(5000).emitWithAck('chat.send', 'from node 2'), { ok: true })
    const event = await um.waitFor((m) => m.body.type === 'CLIENT_EVENT' && m.body.sid === sid)
    assert.equal(event.body.type === 'CLIENT_EVENT' && event.body.node, n2.nodeId)
    socket.disconnect()
    await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
  })

  it('moved twice (node 1, node 2, node 3): the pid still names node 1, which sends the takeover on to node 2; recovered each time', async (t) => {
    const { um, nodes, stop } = await startResumeNodes(3, { GATEWAY_SOCKETIO: 'true' })
    t.after(stop)
    const socket = sioConnect((nodes[0] as (typeof nodes)[0]).gw.httpUrl)
    await connected(socket)
    const sid = socket.id as string
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    const seen = recordEvents(socket)
    for (const [i, node] of nodes.entries()) {
      if (i > 0) {
        socket.io.engine.close()
        await until(() => !(nodes[i - 1] as typeof node).gw.gateway.app.wsSessions.get(sid)?.isOpen, {
          timeoutMs: 5000,
          what: 'detached',
        })
        await um.request((nodes[i - 1] as typeof node).address, {
          type: 'EMIT',
          v: 1,
          sid,
          event: 'missed',
          data: i,
        })
        ;(socket.io as unknown as { uri: string }).uri = node.gw.httpUrl
        socket.connect()
        await connected(socket)
        assert.equal(socket.recovered, true, `recovered on node ${i + 1}`)
        assert.equal(socket.id, sid)
        assert.equal(node.gw.gateway.app.wsSessions.has(sid), true, `node ${i + 1} holds the session`)
      }
    }
    await until(() => seen.length === 2, { timeoutMs: 5000, what: 'the two missed events' })
    assert.deepEqual(seen, [
      ['missed', 1, '1'],
      ['missed', 2, '2'],
    ])
    const n3 = nodes[2] as (typeof nodes)[0]
    const resumed = await um.waitForCount((m) => m.body.type === 'CLIENT_RESUMED' && m.body.sid === sid, 2)
    assert.deepEqual(
      resumed.map((m) => m.body.type === 'CLIENT_RESUMED' && [m.body.node, m.body.previousNode]),
      [
        [(nodes[1] as (typeof nodes)[0]).nodeId, (nodes[0] as (typeof nodes)[0]).nodeId],
        [n3.nodeId, (nodes[1] as (typeof nodes)[0]).nodeId],
      ],
    )
    socket.disconnect()
  })
})

describe('Socket.IO heartbeat: a client that stops answering pings is dropped (real broker)', () => {
  it('engine.io pings at half SESSION_HEARTBEAT_MS; no pong: the session ends with 1006 (resume off)', async (t) => {
    const { um, gw, stop } = await startSioNode({ SESSION_HEARTBEAT_MS: '400' })
    t.after(stop)
    // A bare Engine.IO v4 client over websocket that connects the main namespace, then never pongs.
    const ws = new WebSocket(`${gw.httpUrl.replace('http:', 'ws:')}/socket.io/?EIO=4&transport=websocket`)
    const sid = await new Promise<string>((resolve, reject) => {
      ws.on('error', reject)
      ws.on('message', (data) => {
        const text = data.toString()
        if (text.startsWith('0{')) {
          const open = JSON.parse(text.slice(1)) as { pingInterval: number }
          assert.equal(open.pingInterval, 200, 'half the sessions heartbeat')
          ws.send('40')
        } else if (text.startsWith('40{')) resolve((JSON.parse(text.slice(2)) as { sid: string }).sid)
      })
    })
    assert.match(sid, SID)
    const gone = await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
    assert.equal(gone.body.type === 'CLIENT_DISCONNECTED' && gone.body.code, 1006)
    ws.terminate()
  })
})

describe('Socket.IO with a custom authenticate (embedded mode)', () => {
  it('needs verifySocketIoToken (refused at build with a message); given one, CONNECT is checked by it', async () => {
    const authenticate = () => ({ sub: 'custom' })
    await assert.rejects(
      startGateway({ GATEWAY_SOCKETIO: 'true' }, { authenticate }),
      /GATEWAY_SOCKETIO with a custom authenticate needs verifySocketIoToken/,
    )
    const gw = await startGateway(
      { GATEWAY_SOCKETIO: 'true' },
      {
        authenticate,
        verifySocketIoToken: async (token) => {
          if (token !== 'let-me-in') throw new Error('no')
          return { sub: 'sio-user' }
        },
      },
    )
    try {
      const refused = sioConnect(gw.httpUrl, { auth: { token: 'wrong' } })
      const err = await connected(refused).then(
        () => undefined,
        (e: Error) => e,
      )
      assert.match(err?.message ?? '', /authentication failed/)
      refused.close()
      const socket = sioConnect(gw.httpUrl, { auth: { token: 'let-me-in' } })
      await connected(socket)
      assert.equal(gw.gateway.app.wsSessions.get(socket.id as string)?.userId, 'sio-user')
      socket.disconnect()
    } finally {
      await gw.gateway.close()
    }
  })
})
