import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { describe, it } from 'node:test'
import { TestClient, until, within } from '@session-gateway/test-kit'
import { disconnectRecorder, expectRejected, startServer, startSlowConsumerServer } from './helpers.js'

describe('rate limit', () => {
  it('answers RATE_LIMITED past the burst, drops the frame, and closes 1008 past maxViolations', async (t) => {
    const recorder = disconnectRecorder()
    const handled: unknown[] = []
    const server = await startServer(
      {
        heartbeatIntervalMs: 0,
        rateLimit: { ratePerSec: 0.01, burst: 3, maxViolations: 2 },
        onDisconnect: recorder.onDisconnect,
      },
      (app) => {
        app.wsSessions.handle('work', (_s, data) => {
          handled.push(data)
          return data
        })
      },
    )
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    for (let i = 1; i <= 3; i++) {
      assert.deepEqual(await client.exchange({ event: 'work', data: i, id: i }), { id: i, ok: true, data: i })
    }
    // Two violations are tolerated: answered as a reply (with id) or an error frame (without).
    assert.deepEqual(await client.exchange({ event: 'work', data: 4, id: 4 }), {
      id: 4,
      ok: false,
      error: { code: 'RATE_LIMITED', message: 'rate limit exceeded' },
    })
    assert.deepEqual(await client.exchange({ event: 'work', data: 5 }), {
      event: 'error',
      data: { code: 'RATE_LIMITED', message: 'rate limit exceeded' },
    })
    // One more closes the session.
    assert.equal((await client.exchange({ event: 'work', data: 6, id: 6 })).error.code, 'RATE_LIMITED')
    assert.deepEqual(await within(client.closed, 3000, 'the 1008 close'), {
      code: 1008,
      reason: 'rate limit exceeded',
    })
    assert.deepEqual(handled, [1, 2, 3])
    await until(() => recorder.calls.length === 1)
    assert.equal(recorder.calls[0]?.code, 1008)
    assert.equal(server.app.wsSessions.stats.errorsByCode.RATE_LIMITED, 3)
  })

  it('refills the bucket over time', async (t) => {
    // The bucket reads performance.now(): a mocked clock makes "no time passed" and "exactly one
    // token's worth passed" exact, whatever the machine's load.
    let clock = performance.now()
    t.mock.method(performance, 'now', () => clock)
    const server = await startServer({
      heartbeatIntervalMs: 0,
      rateLimit: { ratePerSec: 2, burst: 1, maxViolations: 1000 },
    })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    const limited = { ok: false, error: { code: 'RATE_LIMITED', message: 'rate limit exceeded' } }
    assert.equal((await client.exchange({ event: 'GET_SID', id: 1 })).ok, true)
    // The bucket is empty: the next frame at the same instant is refused.
    assert.deepEqual(await client.exchange({ event: 'GET_SID', id: 2 }), { id: 2, ...limited })
    // Just short of one token (500 ms at 2/s): still refused.
    clock += 499
    assert.deepEqual(await client.exchange({ event: 'GET_SID', id: 3 }), { id: 3, ...limited })
    // One token back: one frame passes, the next one is refused again.
    clock += 1
    assert.equal((await client.exchange({ event: 'GET_SID', id: 4 })).ok, true)
    assert.deepEqual(await client.exchange({ event: 'GET_SID', id: 5 }), { id: 5, ...limited })
    // Never more than the burst, however long the wait.
    clock += 60_000
    assert.equal((await client.exchange({ event: 'GET_SID', id: 6 })).ok, true)
    assert.deepEqual(await client.exchange({ event: 'GET_SID', id: 7 }), { id: 7, ...limited })
    await client.close()
  })

  it('rateLimit: false disables it', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0, rateLimit: false })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    for (let i = 0; i < 500; i++) client.send({ event: 'GET_SID', id: i })
    for (let i = 0; i < 500; i++) assert.equal((await client.next()).ok, true)
    await client.close()
  })
})

describe('maxSessions', () => {
  it('answers HTTP 503 before the upgrade once the node is full, and accepts again when a session leaves', async (t) => {
    const server = await startServer({ heartbeatIntervalMs: 0, maxSessions: 2 })
    t.after(() => server.close())
    const a = await TestClient.open(server.url)
    const b = await TestClient.open(server.url)
    assert.deepEqual(await expectRejected(server.url), {
      status: 503,
      body: { code: 'TOO_MANY_SESSIONS', message: 'too many sessions on this node' },
    })
    assert.equal(server.app.wsSessions.stats.rejectedUpgrades.TOO_MANY_SESSIONS, 1)
    assert.equal(server.app.wsSessions.size, 2)
    await a.close()
    await until(() => server.app.wsSessions.size === 1)
    const c = await TestClient.open(server.url)
    await Promise.all([b.close(), c.close()])
  })
})

describe('slow consumer', () => {
  it('closes with 1013 a session whose send buffer passes maxBufferedBytes, and frees it', async (t) => {
    const { server, recorder } = await startSlowConsumerServer(t)
    const client = await TestClient.open(server.url)
    const sid = await client.sid()
    // The client stops reading: the kernel buffers fill, then the server's send buffer grows.
    const raw = (client.ws as unknown as { _socket: Socket })._socket
    raw.pause()
    const session = server.app.wsSessions.get(sid)
    assert.ok(session)
    const big = 'x'.repeat(256 * 1024)
    let sent = 0
    while (session.send('big', big)) {
      sent++
      assert.ok(sent < 2000, 'the send buffer never passed its bound')
    }
    assert.equal(session.isOpen, false)
    assert.equal(server.app.wsSessions.send(sid, 'big', 'more'), false)
    // The client never reads the close frame: the server gives up after closeTimeoutMs.
    await until(() => recorder.calls.length === 1, { timeoutMs: 3000, what: 'the disconnect hook' })
    assert.deepEqual(recorder.calls, [{ sid, code: 1013, reason: 'slow consumer' }])
    assert.equal(server.app.wsSessions.size, 0)
    assert.equal(server.app.wsSessions.activeTimers, 0)
    raw.resume()
    await within(client.closed, 3000, 'the client to see the close')
  })
})

describe('heartbeat', () => {
  // Mocked intervals: the test ticks the heartbeat itself, each tick once the previous ping and
  // its pong (or its absence) are known. With a real 20 ms interval, a loaded machine that stalls
  // the process between a ping and the read of its pong has the next tick terminate a live client.
  it('terminates a client that does not answer pings; the disconnect hook gets 1006', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const recorder = disconnectRecorder()
    const server = await startServer({ heartbeatIntervalMs: 50, onDisconnect: recorder.onDisconnect })
    t.after(() => server.close())
    const silent = await TestClient.open(server.url, { autoPong: false })
    let pings = 0
    silent.ws.on('ping', () => pings++)
    const sid = await silent.sid()
    t.mock.timers.tick(50)
    await until(() => pings === 1, { timeoutMs: 3000, what: 'the first ping' })
    assert.equal(silent.closeInfo, undefined, 'one unanswered ping so far: still open')
    t.mock.timers.tick(50)
    assert.equal((await within(silent.closed, 3000, 'the silent client to be terminated')).code, 1006)
    assert.equal(pings, 1)
    await until(() => recorder.calls.length === 1)
    assert.deepEqual(recorder.calls, [{ sid, code: 1006, reason: 'heartbeat timeout' }])
    await until(() => server.app.wsSessions.activeTimers === 0, {
      timeoutMs: 3000,
      what: 'the heartbeat timer to stop',
    })
  })

  it('spread over slices (an interval of several), still terminates the silent client and keeps the answering one', async (t) => {
    const recorder = disconnectRecorder()
    // 300 ms: three slices of 100 ms; the two clients join different slices.
    const server = await startServer({ heartbeatIntervalMs: 300, onDisconnect: recorder.onDisconnect })
    t.after(() => server.close())
    const answering = await TestClient.open(server.url)
    const silent = await TestClient.open(server.url, { autoPong: false })
    const sid = await silent.sid()
    let pings = 0
    answering.ws.on('ping', () => pings++)
    assert.equal((await within(silent.closed, 5000, 'the silent client to be terminated')).code, 1006)
    await until(() => recorder.calls.length === 1)
    assert.deepEqual(recorder.calls, [{ sid, code: 1006, reason: 'heartbeat timeout' }])
    await until(() => pings >= 3, { timeoutMs: 5000, what: 'three pings to the answering client' })
    assert.equal(answering.ws.readyState, answering.ws.OPEN)
    assert.equal(server.app.wsSessions.size, 1)
    await answering.close()
  })

  it('keeps a client that answers pings', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] })
    const server = await startServer({ heartbeatIntervalMs: 20 })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    let pings = 0
    client.ws.on('ping', () => pings++)
    for (let tick = 1; tick <= 5; tick++) {
      t.mock.timers.tick(20)
      await until(() => pings === tick, { timeoutMs: 3000, what: `ping ${tick}` })
      // The pong went out before this request on the same connection: once the reply is back,
      // the server has read the pong, so the next tick sees the ping answered.
      await client.sid()
    }
    assert.equal(client.ws.readyState, client.ws.OPEN)
    assert.equal(server.app.wsSessions.size, 1)
    await client.close()
  })

  it('heartbeatIntervalMs: 0 sends no pings and holds no timer', async (t) => {
    // Mocked timers: an hour of them passes at once below, so a heartbeat that ran anyway
    // would have pinged by then (the heartbeat is a chain of setTimeout, one per slice).
    t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] })
    const server = await startServer({ heartbeatIntervalMs: 0 })
    t.after(() => server.close())
    const client = await TestClient.open(server.url)
    let pings = 0
    client.ws.on('ping', () => pings++)
    await client.sid()
    assert.equal(server.app.wsSessions.activeTimers, 0)
    t.mock.timers.tick(3_600_000)
    assert.equal(server.app.wsSessions.size, 1, 'no heartbeat ended the session')
    // A round trip after it: a ping sent by the tick would have arrived before this reply.
    await client.sid()
    assert.equal(pings, 0)
    await client.close()
  })
})
