import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import { SessionError } from '../src/index.js'
import { startServer, type TestServer } from './helpers.js'

describe('rooms', () => {
  let server: TestServer
  let clients: TestClient[]
  let sids: string[]
  before(async () => {
    server = await startServer({ heartbeatIntervalMs: 0, maxRoomsPerSession: 3 }, (app) => {
      // A client can join rooms itself through a handler.
      app.wsSessions.handle('room.join', (session, data) => {
        app.wsSessions.join(session.sid, String(data))
        return [...session.rooms]
      })
    })
    clients = await Promise.all([1, 2, 3].map(() => TestClient.open(server.url)))
    sids = await Promise.all(clients.map((c) => c.sid()))
  })
  after(async () => {
    await Promise.all(clients.map((c) => c.close()))
    await server.close()
  })

  it('join, members, roomsOf, leave; empty rooms are deleted', () => {
    const registry = server.app.wsSessions
    const [a, b] = sids as [string, string]
    registry.join(a, 'lobby')
    registry.join(b, 'lobby')
    registry.join(a, 'lobby') // joining twice changes nothing
    registry.join(a, 'game:1')
    assert.deepEqual([...registry.members('lobby')].sort(), [a, b].sort())
    assert.deepEqual([...registry.roomsOf(a)].sort(), ['game:1', 'lobby'])
    assert.deepEqual([...(registry.get(a)?.rooms ?? [])].sort(), ['game:1', 'lobby'])
    assert.equal(registry.roomCount, 2)
    registry.leave(a, 'game:1')
    assert.equal(registry.roomCount, 1, 'the empty room is deleted')
    assert.deepEqual([...registry.members('game:1')], [])
    registry.leave(a, 'not-a-member') // no-op
    registry.leave(a, 'lobby')
    registry.leave(b, 'lobby')
    assert.equal(registry.roomCount, 0)
    assert.deepEqual([...registry.roomsOf(a)], [])
  })

  it('returns snapshots that cannot change the registry', () => {
    const registry = server.app.wsSessions
    const [a] = sids as [string]
    registry.join(a, 'snap')
    const members = registry.members('snap') as Set<string>
    members.clear()
    assert.equal(registry.members('snap').size, 1)
    registry.leave(a, 'snap')
  })

  it('throws SESSION_NOT_FOUND for an unknown session, INVALID for a bad room name', () => {
    const registry = server.app.wsSessions
    assert.throws(
      () => registry.join('nobody', 'lobby'),
      (err: unknown) => err instanceof SessionError && err.code === 'SESSION_NOT_FOUND',
    )
    assert.throws(
      () => registry.leave('nobody', 'lobby'),
      (err: unknown) => err instanceof SessionError && err.code === 'SESSION_NOT_FOUND',
    )
    assert.throws(
      () => registry.join(sids[0] as string, ''),
      (err: unknown) => err instanceof SessionError && err.code === 'INVALID',
    )
    assert.throws(
      () => registry.join(sids[0] as string, 'r'.repeat(129)),
      (err: unknown) => err instanceof SessionError && err.code === 'INVALID',
    )
  })

  it('bounds the rooms of a session: LIMIT past maxRoomsPerSession', async () => {
    const registry = server.app.wsSessions
    const client = clients[2] as TestClient
    const sid = sids[2] as string
    for (const room of ['r1', 'r2', 'r3']) {
      assert.equal((await client.exchange({ event: 'room.join', data: room, id: room })).ok, true)
    }
    assert.deepEqual(await client.exchange({ event: 'room.join', data: 'r4', id: 'r4' }), {
      id: 'r4',
      ok: false,
      error: { code: 'LIMIT', message: 'too many rooms: a session may be in at most 3' },
    })
    assert.throws(() => registry.join(sid, 'r4'), { name: 'SessionError', code: 'LIMIT' })
    registry.join(sid, 'r3') // already a member: fine at the limit
    for (const room of ['r1', 'r2', 'r3']) registry.leave(sid, room)
  })

  it('emitToRoom reaches the members only, serialized once, with an optional excepted SID', async () => {
    const registry = server.app.wsSessions
    const [a, b] = sids as [string, string]
    const [ca, cb, cc] = clients as [TestClient, TestClient, TestClient]
    registry.join(a, 'chat')
    registry.join(b, 'chat')
    assert.equal(registry.emitToRoom('chat', 'msg', { text: 'to all' }), 2)
    assert.deepEqual(await ca.next(), { event: 'msg', data: { text: 'to all' } })
    assert.deepEqual(await cb.next(), { event: 'msg', data: { text: 'to all' } })
    assert.equal(registry.emitToRoom('chat', 'msg', { text: 'not to a' }, a), 1)
    assert.deepEqual(await cb.next(), { event: 'msg', data: { text: 'not to a' } })
    assert.equal(registry.emitToRoom('empty-room', 'msg'), 0)
    // c was in no room: its next frame is the answer to this request.
    assert.equal((await cc.exchange({ event: 'GET_SID', id: 'c' })).id, 'c')
    assert.equal(ca.frames.length + cb.frames.length, 0)
    registry.leave(a, 'chat')
    registry.leave(b, 'chat')
  })

  it('broadcast reaches every session', async () => {
    const registry = server.app.wsSessions
    assert.equal(registry.broadcast('news', [1, 2]), 3)
    for (const client of clients) assert.deepEqual(await client.next(), { event: 'news', data: [1, 2] })
  })

  it('a session leaves all its rooms when it disconnects', async () => {
    const registry = server.app.wsSessions
    const extra = await TestClient.open(server.url)
    const sid = await extra.sid()
    registry.join(sid, 'solo')
    registry.join(sid, 'shared')
    registry.join(sids[0] as string, 'shared')
    assert.equal(registry.roomCount, 2)
    await extra.close()
    await until(() => !registry.has(sid))
    assert.deepEqual([...registry.members('shared')], [sids[0]])
    assert.equal(registry.roomCount, 1)
    assert.deepEqual([...registry.roomsOf(sid)], [])
    registry.leave(sids[0] as string, 'shared')
    assert.equal(registry.roomCount, 0)
  })
})
