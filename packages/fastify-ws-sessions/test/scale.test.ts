import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import { startServer } from './helpers.js'

describe('1,000 sessions', () => {
  it('connect, join rooms, receive, leave: registry, rooms, timers and listeners back to zero', async (t) => {
    let connected = 0
    let disconnected = 0
    const server = await startServer({
      heartbeatIntervalMs: 1000,
      onConnect: () => {
        connected++
      },
      onDisconnect: () => {
        disconnected++
      },
    })
    t.after(() => server.close())
    let closed = false
    t.after(async () => {
      if (!closed) await server.close()
    })
    const registry = server.app.wsSessions
    const clients: TestClient[] = []
    for (let batch = 0; batch < 10; batch++) {
      clients.push(...(await Promise.all(Array.from({ length: 100 }, () => TestClient.open(server.url)))))
    }
    await until(() => connected === 1000, { timeoutMs: 10_000, what: 'every onConnect' })
    assert.equal(registry.size, 1000)
    assert.equal(registry.activeTimers, 1, 'one heartbeat interval for all sessions')

    const sids = await Promise.all(clients.map((client) => client.sid()))
    const groupOf = new Map<string, string>()
    let i = 0
    for (const session of registry) {
      const group = `group:${i++ % 10}`
      registry.join(session.sid, 'all')
      registry.join(session.sid, group)
      groupOf.set(session.sid, group)
    }
    assert.equal(registry.roomCount, 11)
    assert.equal(registry.members('group:3').size, 100)
    assert.equal(registry.emitToRoom('group:3', 'hello'), 100)
    assert.equal(registry.broadcast('all.hello', { n: 1 }), 1000)
    // Frames of one session arrive in order: the members of group:3 get hello, then all.hello;
    // every other session gets all.hello first (a hello to a non-member would come before it).
    await Promise.all(
      clients.map(async (client, index) => {
        const sid = sids[index] as string
        if (groupOf.get(sid) === 'group:3') assert.deepEqual(await client.next(10_000), { event: 'hello' })
        assert.deepEqual(await client.next(10_000), { event: 'all.hello', data: { n: 1 } }, sid)
      }),
    )

    // Every socket has the session's listeners and no more.
    const ws = server.app.websocketServer
    for (const socket of ws.clients) assert.equal(socket.listenerCount('message'), 1)

    await Promise.all(clients.map((client) => client.close()))
    await until(() => registry.size === 0 && disconnected === 1000, {
      timeoutMs: 10_000,
      what: 'every session to leave',
    })
    assert.equal(registry.roomCount, 0)
    assert.equal(registry.activeTimers, 0)
    assert.equal(ws.clients.size, 0)
    assert.equal(registry.stats.sessionsOpened, 1000)
    assert.equal(registry.stats.sessionsClosed, 1000)
    closed = true
    await server.close()
    assert.equal(server.app.server.listenerCount('upgrade'), 0)
  })
})
