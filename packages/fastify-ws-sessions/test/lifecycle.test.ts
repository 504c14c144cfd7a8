import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { TestClient, until, within } from '@session-gateway/test-kit'
import { type Session, SessionError } from '../src/index.js'
import { disconnectRecorder, expectRejected, startServer } from './helpers.js'

function rawSocket(client: TestClient): Socket {
  return (client.ws as unknown as { _socket: Socket })._socket
}

describe('onDisconnect runs exactly once, whatever closed the session', () => {
  it('client close: the client code and reason', async (t) => {
    const recorder = disconnectRecorder()
    const server = await startServer({ heartbeatIntervalMs: 0, onDisconnect: recorder.onDisconnect })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    client.ws.close(4100, 'bye now')
    assert.equal((await client.closed).code, 4100)
    await until(() => recorder.calls.length > 0)
    await server.close()
    assert.deepEqual(recorder.calls, [{ sid, code: 4100, reason: 'bye now' }])
  })

  it('client close without a code: 1005', async (t) => {
    const recorder = disconnectRecorder()
    const server = await startServer({ heartbeatIntervalMs: 0, onDisconnect: recorder.onDisconnect })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    client.ws.close()
    await client.closed
    await until(() => recorder.calls.length > 0)
    await server.close()
    assert.deepEqual(recorder.calls, [{ sid, code: 1005, reason: '' }])
  })

  it('client vanishes (TCP drop): 1006', async (t) => {
    const recorder = disconnectRecorder()
    const server = await startServer({ heartbeatIntervalMs: 0, onDisconnect: recorder.onDisconnect })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    client.ws.terminate()
    await until(() => recorder.calls.length > 0)
    await server.close()
    assert.deepEqual(recorder.calls, [{ sid, code: 1006, reason: '' }])
  })

  it('server close: the client sees the code and reason, and so does the hook', async (t) => {
    const recorder = disconnectRecorder()
    const server = await startServer({ heartbeatIntervalMs: 0, onDisconnect: recorder.onDisconnect })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    assert.equal(server.app.wsSessions.close(sid, 4001, 'kicked by admin'), true)
    assert.equal(server.app.wsSessions.close(sid, 4002, 'twice'), true) // still registered, already closing: no-op
    assert.deepEqual(await client.closed, { code: 4001, reason: 'kicked by admin' })
    await until(() => recorder.calls.length > 0)
    assert.equal(server.app.wsSessions.close(sid), false)
    await server.close()
    assert.deepEqual(recorder.calls, [{ sid, code: 4001, reason: 'kicked by admin' }])
  })

  it('server close to a client that never answers: terminated after closeTimeoutMs, hook gets the server code', async (t) => {
    const recorder = disconnectRecorder()
    const server = await startServer({
      heartbeatIntervalMs: 0,
      closeTimeoutMs: 50,
      onDisconnect: recorder.onDisconnect,
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    rawSocket(client).pause()
    server.app.wsSessions.get(sid)?.close(1000, 'done')
    await until(() => recorder.calls.length > 0, { timeoutMs: 3000, what: 'the disconnect hook' })
    assert.deepEqual(recorder.calls, [{ sid, code: 1000, reason: 'done' }])
    assert.equal(server.app.wsSessions.activeTimers, 0)
    rawSocket(client).resume()
    await within(client.closed, 3000, 'the client close')
    await server.close()
    assert.equal(recorder.calls.length, 1)
  })

  it("client closes but never ends its TCP side: the session ends after closeTimeoutMs, not ws's 30 s", async (t) => {
    const recorder = disconnectRecorder()
    const server = await startServer({
      heartbeatIntervalMs: 0,
      closeTimeoutMs: 200,
      onDisconnect: recorder.onDisconnect,
    })
    t.after(() => server.close())
    const { port } = new URL(server.url)
    // A raw client: handshake, then a masked close frame (1000), and the socket stays half-open.
    const socket = connect({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true })
    socket.on('error', () => {})
    try {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
      socket.write(
        'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      )
      let received = ''
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1')
      })
      await until(() => received.startsWith('HTTP/1.1 101'), { timeoutMs: 3000, what: 'the 101 answer' })
      await until(() => server.app.wsSessions.size === 1, { timeoutMs: 3000, what: 'the session' })
      const mask = randomBytes(4)
      const payload = Buffer.from([0x03, 0xe8]) // 1000
      const masked = payload.map((byte, i) => byte ^ (mask[i % 4] as number))
      socket.write(Buffer.concat([Buffer.from([0x88, 0x80 | payload.length]), mask, masked]))
      // ws's own default would hold the session 30 s; closeTimeoutMs bounds it.
      await until(() => recorder.calls.length > 0, { timeoutMs: 5000, what: 'onDisconnect' })
      assert.equal(recorder.calls[0]?.code, 1000)
      assert.equal(server.app.wsSessions.size, 0)
    } finally {
      socket.destroy()
      await server.close()
    }
  })

  it('a throwing onDisconnect is logged and does not disturb anything', async (t) => {
    let calls = 0
    const server = await startServer({
      heartbeatIntervalMs: 0,
      onDisconnect: () => {
        calls++
        throw new Error('hook failed')
      },
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    await client.close()
    await until(() => calls === 1)
    const again = await TestClient.open(server.url)
    await again.sid()
    await server.close()
    assert.equal(calls, 2)
  })
})

describe('onConnect rejection', () => {
  for (const [what, error, expected] of [
    ['an Error: 1011 with a generic reason', new Error('db down'), { code: 1011, reason: 'internal error' }],
    [
      'a SessionError with a close code: that code and its message',
      new SessionError('BANNED', 'you are banned', { closeCode: 4003 }),
      { code: 4003, reason: 'you are banned' },
    ],
    [
      'a SessionError without a close code: 1011 and its message',
      new SessionError('NOT_NOW', 'come back later'),
      { code: 1011, reason: 'come back later' },
    ],
  ] as const) {
    it(`closes the session when onConnect throws ${what}; onDisconnect still runs once`, async (t) => {
      const recorder = disconnectRecorder()
      const handled: string[] = []
      const server = await startServer(
        {
          heartbeatIntervalMs: 0,
          onConnect: async () => {
            await new Promise((resolve) => setImmediate(resolve))
            throw error
          },
          onDisconnect: recorder.onDisconnect,
        },
        (app) => app.wsSessions.handle('early', () => handled.push('early')),
      )
      t.after(() => server.close())
      const client = await TestClient.open(server.url)
      client.send({ event: 'early', id: 1 })
      assert.deepEqual(await client.closed, expected)
      await until(() => recorder.calls.length > 0)
      await server.close()
      assert.equal(recorder.calls.length, 1)
      assert.equal(recorder.calls[0]?.code, expected.code)
      assert.deepEqual(handled, [], 'frames of a rejected session are never handled')
      assert.equal(client.frames.length, 0)
    })
  }

  it('runs onDisconnect only after onConnect finished, even when the client left meanwhile', async (t) => {
    const order: string[] = []
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const server = await startServer({
      heartbeatIntervalMs: 0,
      onConnect: async () => {
        order.push('connect:start')
        await gate
        order.push('connect:end')
      },
      onDisconnect: () => {
        order.push('disconnect')
      },
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    await until(() => order.length === 1)
    client.ws.terminate()
    await until(() => server.app.wsSessions.size === 0)
    assert.deepEqual(order, ['connect:start'])
    release()
    await until(() => order.length === 3)
    assert.deepEqual(order, ['connect:start', 'connect:end', 'disconnect'])
  })
})

describe('graceful shutdown', () => {
  it('closes every session with 1001 and awaits every disconnect hook before fastify.close() resolves', async (t) => {
    // A heartbeat timer that must be gone after close, but never ticks: a real tick could end a
    // session 1006 whose pong a loaded machine read too late, before the shutdown closes it 1001.
    t.mock.timers.enable({ apis: ['setInterval'] })
    const finished: string[] = []
    let duringShutdown: Promise<{ status: number }> | undefined
    const server = await startServer({
      heartbeatIntervalMs: 50,
      onDisconnect: async (session: Session, code) => {
        assert.equal(code, 1001)
        // While the hooks run, the node refuses new upgrades.
        duringShutdown ??= expectRejected(server.url)
        await new Promise((resolve) => setTimeout(resolve, 20))
        finished.push(session.sid)
      },
    })
    t.after(() => server.close())
    const clients = await Promise.all(Array.from({ length: 10 }, () => TestClient.open(server.url)))
    const sids = await Promise.all(clients.map((c) => c.sid()))
    await server.app.wsSessions.join(sids[0] as string, 'room') // rooms go too
    const upgradeListeners = server.app.server.listenerCount('upgrade')
    assert.equal(upgradeListeners, 1)
    await server.close()
    assert.deepEqual([...finished].sort(), [...sids].sort())
    for (const client of clients) {
      assert.deepEqual(await client.closed, { code: 1001, reason: 'server shutting down' })
    }
    assert.equal((await duringShutdown)?.status, 503)
    const registry = server.app.wsSessions
    assert.equal(registry.size, 0)
    assert.equal(registry.roomCount, 0)
    assert.equal(registry.activeTimers, 0)
    assert.equal(registry.closing, true)
    assert.equal(registry.stats.sessionsOpened, 10)
    assert.equal(registry.stats.sessionsClosed, 10)
    assert.equal(registry.stats.closeCodes['1001'], 10)
    assert.equal(server.app.server.listenerCount('upgrade'), 0)
    assert.equal(server.app.websocketServer.clients.size, 0)
  })

  it('does not wait longer than closeTimeoutMs for a client that does not answer', async (t) => {
    const recorder = disconnectRecorder()
    const server = await startServer({
      heartbeatIntervalMs: 0,
      closeTimeoutMs: 100,
      onDisconnect: recorder.onDisconnect,
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    rawSocket(client).pause()
    await within(server.close(), 2000, 'fastify.close()')
    assert.deepEqual(recorder.calls, [{ sid, code: 1001, reason: 'server shutting down' }])
    rawSocket(client).resume()
    await within(client.closed, 2000, 'the client close')
  })

  it('answers its own 503 SHUTTING_DOWN when Fastify lets requests through while closing', async (t) => {
    let duringShutdown: Promise<unknown> | undefined
    const server = await startServer(
      {
        heartbeatIntervalMs: 0,
        onDisconnect: async () => {
          duringShutdown ??= expectRejected(server.url)
          await duringShutdown
        },
      },
      undefined,
      { return503OnClosing: false },
    )
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    await client.sid()
    await server.close()
    assert.deepEqual(await duringShutdown, {
      status: 503,
      body: { code: 'SHUTTING_DOWN', message: 'server is shutting down' },
    })
    assert.equal(server.app.wsSessions.stats.rejectedUpgrades.SHUTTING_DOWN, 1)
  })

  it('closes cleanly with no session at all', async () => {
    const server = await startServer()
    await server.close()
    assert.equal(server.app.wsSessions.activeTimers, 0)
  })
})

describe('Session and registry', () => {
  it('logs through a child logger carrying the sid', async (t) => {
    const lines: Array<Record<string, unknown>> = []
    const stream = { write: (line: string) => lines.push(JSON.parse(line)) }
    const server = await startServer({ heartbeatIntervalMs: 0 }, undefined, {
      logger: { level: 'info', stream },
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    const session = server.app.wsSessions.get(sid)
    session?.log.info('from the app')
    await client.close()
    await until(() => lines.some((l) => l.msg === 'session closed'))
    await server.close()
    const about = lines.filter((l) => l.sid === sid).map((l) => l.msg)
    assert.deepEqual(about, ['session opened', 'from the app', 'session closed'])
    assert.equal(lines.find((l) => l.msg === 'session closed')?.code, 1000)
  })

  it('send, sendRaw and registry.send deliver event frames; false when the session is gone', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0 })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    const session = server.app.wsSessions.get(sid)
    assert.ok(session)
    assert.equal(session.send('hello', { n: 1 }), true)
    assert.deepEqual(await client.next(), { event: 'hello', data: { n: 1 } })
    assert.equal(session.send('bare'), true)
    assert.deepEqual(await client.next(), { event: 'bare' })
    assert.equal(session.sendRaw('{"event":"raw"}'), true)
    assert.deepEqual(await client.next(), { event: 'raw' })
    assert.equal(server.app.wsSessions.send(sid, 'via.registry', 2), true)
    assert.deepEqual(await client.next(), { event: 'via.registry', data: 2 })
    assert.equal(server.app.wsSessions.send('no-such-sid', 'x'), false)
    assert.deepEqual(
      [...server.app.wsSessions].map((s) => s.sid),
      [sid],
    )
    assert.deepEqual(
      [...server.app.wsSessions.values()].map((s) => s.sid),
      [sid],
    )
    assert.throws(() => session.close(1006), {
      name: 'RangeError',
      message: 'invalid WebSocket close code 1006',
    })
    session.close(4000, 'é'.repeat(100)) // the reason is cut to 123 bytes
    const closed = await client.closed
    assert.equal(closed.code, 4000)
    assert.equal(closed.reason, 'é'.repeat(61))
    assert.equal(session.isOpen, false)
    assert.equal(session.send('late'), false)
    await until(() => !server.app.wsSessions.has(sid))
    assert.equal(server.app.wsSessions.get(sid), undefined)
  })

  it('counts frames in and out and sessions', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0 })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    await client.sid()
    client.send('bad')
    await client.next()
    const { stats } = server.app.wsSessions
    assert.equal(stats.framesIn, 2)
    assert.equal(stats.framesOut, 2)
    assert.equal(stats.sessionsOpened, 1)
    await client.close()
    await until(() => stats.sessionsClosed === 1)
    assert.deepEqual(stats.closeCodes, { '1000': 1 })
  })
})
