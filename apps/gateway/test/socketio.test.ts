import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { deleteQueues, unique } from './helpers/broker.js'
import { BROKER_URL, FakeUserManager } from './helpers/fake-user-manager.js'
import { type StartedGateway, startGateway, until } from './helpers/gateway.js'
import { jwtFor, TEST_JWT_SECRET } from './helpers/jwt.js'
import { connected, nextEvent, recordEvents, sioConnect } from './helpers/sio-client.js'

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
  await until(() => gw.gateway.backend.state === 'open', 10_000, 'bridge open')
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
      assert.match(sid, /^[A-Za-z0-9_-]{22,}$/, 'socket.id is the session id the UM sees')
      const hello = await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
      assert.equal(hello.body.type === 'CLIENT_CONNECTED' && hello.body.meta.user?.sub, user)
      if (transports.length === 2) {
        await until(() => socket.io.engine.transport.name === 'websocket', 5000, 'the upgrade to websocket')
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
      await until(() => seen.length === 4, 5000, 'four events')
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
    const ack = await socket.timeout(5000).emitWithAck('upload', Buffer.from([1, 2, 3]))
    assert.equal(ack.ok, false)
    assert.equal(ack.error.code, 'BAD_FRAME')
    assert.match(ack.error.message, /binary/)
    assert.deepEqual(await socket.timeout(5000).emitWithAck('after.binary', 1), { ok: true })
    const events = um.received.filter((m) => m.body.type === 'CLIENT_EVENT' && m.body.sid === sid)
    assert.deepEqual(
      events.map((m) => m.body.type === 'CLIENT_EVENT' && m.body.event),
      ['after.binary'],
    )
    socket.disconnect()
  })
})
