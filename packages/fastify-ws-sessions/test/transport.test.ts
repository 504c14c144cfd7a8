import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { describe, it } from 'node:test'
import { until } from '@session-gateway/test-kit'
import type { SessionTransport, TransportOpened, WsSessionsOptions } from '../src/index.js'
import { disconnectRecorder, startServer, type TestServer } from './helpers.js'

/** A transport the test drives by hand: what a Socket.IO adapter does for a real connection. */
class FakeTransport extends EventEmitter implements SessionTransport {
  readyState = 1
  bufferedAmount = 0
  readonly sent: string[] = []
  readonly announced: TransportOpened[] = []
  closedWith: [number, string] | undefined

  send(text: string): void {
    this.sent.push(text)
  }
  close(code: number, reason: string): void {
    this.closedWith = [code, reason]
    this.readyState = 2
    setImmediate(() => this.drop(code, reason))
  }
  terminate(): void {
    this.drop(1006, '')
  }
  ping(): void {
    this.emit('pong')
  }
  pause(): void {}
  resume(): void {}
  opened(info: TransportOpened): void {
    this.announced.push(info)
  }
  /** The connection is gone (the client's side). */
  drop(code = 1006, reason = ''): void {
    if (this.readyState === 3) return
    this.readyState = 3
    this.emit('close', code, Buffer.from(reason))
  }
  frame(value: unknown): void {
    this.emit('message', Buffer.from(JSON.stringify(value)), false)
  }
  get frames(): Array<Record<string, unknown>> {
    return this.sent.map((t) => JSON.parse(t) as Record<string, unknown>)
  }
}

async function server(options: WsSessionsOptions = {}): Promise<TestServer> {
  return startServer({ heartbeatIntervalMs: 0, ...options })
}

function attach(s: TestServer, transport: FakeTransport, more: Record<string, unknown> = {}) {
  return s.app.wsSessions.attach({ transport, remoteAddress: '10.0.0.1', log: s.app.log, ...more })
}

describe('attach: sessions over another transport', () => {
  it('a session like any other: opened with its SID, events handled and replied, sends reach the transport, close reported once', async () => {
    const ended = disconnectRecorder()
    const s = await server({ onEvent: (_s, data) => ({ echo: data }), onDisconnect: ended.onDisconnect })
    try {
      const t = new FakeTransport()
      const result = await attach(s, t, { claims: { sub: 'ann' } })
      assert.ok(result.ok)
      const { sid } = result.session
      assert.deepEqual(t.announced, [{ sid, resumed: false }], 'no resume key with resume off')
      assert.equal(result.session.userId, 'ann')
      assert.deepEqual(
        s.app.wsSessions.userSessions('ann').map((x) => x.sid),
        [sid],
      )
      t.frame({ event: 'ping.me', data: 7, id: 3 })
      await until(() => t.sent.length === 1, { timeoutMs: 3000, what: 'the reply' })
      assert.deepEqual(t.frames[0], { id: 3, ok: true, data: { echo: 7 } })
      assert.equal(s.app.wsSessions.send(sid, 'news', 'x'), true)
      assert.deepEqual(t.frames[1], { event: 'news', data: 'x' })
      t.frame({ event: 'bad event name!' })
      assert.equal((t.frames[2]?.data as { code?: string })?.code, 'INVALID')
      t.drop(1000, 'bye')
      await until(() => ended.calls.length === 1, { timeoutMs: 3000, what: 'onDisconnect' })
      assert.deepEqual(ended.calls[0], { sid, code: 1000, reason: 'bye' })
      assert.equal(s.app.wsSessions.size, 0)
    } finally {
      await s.close()
    }
  })

  it("the upgrade's limits apply: sessions per client, and the session's send-buffer bound", async () => {
    const s = await server({ maxSessionsPerClient: 1, maxBufferedBytes: 100 })
    try {
      const first = new FakeTransport()
      assert.ok((await attach(s, first, { claims: { sub: 'bob' } })).ok)
      const second = await attach(s, new FakeTransport(), { claims: { sub: 'bob' } })
      assert.deepEqual(second.ok ? undefined : [second.code, s.app.wsSessions.stats.rejectedUpgrades], [
        'TOO_MANY_CLIENT_SESSIONS',
        { TOO_MANY_CLIENT_SESSIONS: 1 },
      ])
      first.bufferedAmount = 1000
      const sid = [...s.app.wsSessions.values()][0]?.sid as string
      assert.equal(s.app.wsSessions.send(sid, 'big', 1), false)
      assert.deepEqual(first.closedWith, [1013, 'slow consumer'])
      await until(() => s.app.wsSessions.size === 0, { timeoutMs: 3000, what: 'the session closed' })
      // Released with the transport's close: the client may open a session again.
      assert.ok((await attach(s, new FakeTransport(), { claims: { sub: 'bob' } })).ok)
    } finally {
      await s.close()
    }
  })

  it('resume on: a resume key resumes the session again and again (not single use), replaying what it missed; another user cannot', async () => {
    const s = await server({
      resume: { windowMs: 60_000, secret: 'transport-test-secret-0123456789abcdef', nodeId: 'n1' },
    })
    try {
      const t1 = new FakeTransport()
      const result = await attach(s, t1, { claims: { sub: 'cat' } })
      assert.ok(result.ok)
      const { sid } = result.session
      const key = t1.announced[0]?.resumeKey as string
      assert.equal(typeof key, 'string')
      s.app.wsSessions.send(sid, 'news', 1)
      assert.deepEqual(t1.frames, [{ event: 'news', data: 1, seq: 1 }])
      t1.drop()
      await until(() => s.app.wsSessions.get(sid)?.detached === true, { timeoutMs: 3000, what: 'detached' })
      assert.equal(s.app.wsSessions.deliver(sid, 'news', 2), 'kept')

      const thief = new FakeTransport()
      const stolen = await attach(s, thief, { claims: { sub: 'eve' }, resume: { key, lastSeq: 0 } })
      assert.ok(stolen.ok)
      assert.notEqual(stolen.session.sid, sid)
      assert.equal(thief.announced[0]?.reason, 'invalid')
      assert.equal(s.app.wsSessions.get(sid)?.detached, true, 'the session is untouched')

      for (const round of [1, 2]) {
        const t = new FakeTransport()
        const back = await attach(s, t, { claims: { sub: 'cat' }, resume: { key, lastSeq: round } })
        assert.ok(back.ok)
        assert.equal(back.session.sid, sid)
        assert.deepEqual(t.announced, [{ sid, resumed: true, replayed: 1 }])
        assert.deepEqual(t.frames, [{ event: 'news', data: round + 1, seq: round + 1 }])
        t.drop()
        await until(() => s.app.wsSessions.get(sid)?.detached === true, {
          timeoutMs: 3000,
          what: 'detached again',
        })
        s.app.wsSessions.deliver(sid, 'news', round + 2)
      }
    } finally {
      await s.close()
    }
  })

  it('a close emitted twice is reported once', async () => {
    const ended = disconnectRecorder()
    const s = await server({ onDisconnect: ended.onDisconnect })
    try {
      const t = new FakeTransport()
      const result = await attach(s, t)
      assert.ok(result.ok)
      t.readyState = 3
      t.emit('close', 1000, Buffer.from('first'))
      t.emit('close', 4000, Buffer.from('second'))
      await until(() => ended.calls.length === 1, { timeoutMs: 3000, what: 'onDisconnect' })
      await new Promise((resolve) => setTimeout(resolve, 20))
      assert.deepEqual(ended.calls, [{ sid: result.session.sid, code: 1000, reason: 'first' }])
    } finally {
      await s.close()
    }
  })

  it('a transport that is not an EventEmitter (listeners called without `this`) works the same', async () => {
    type Listener = (...args: never[]) => void
    const listeners = new Map<string, Listener[]>()
    const sent: string[] = []
    let readyState = 1
    const fire = (event: string, ...args: unknown[]) => {
      for (const listener of listeners.get(event) ?? []) (listener as (...a: unknown[]) => void)(...args)
    }
    const add = (event: string, listener: Listener) => {
      listeners.set(event, [...(listeners.get(event) ?? []), listener])
    }
    const transport: SessionTransport = {
      get readyState() {
        return readyState
      },
      bufferedAmount: 0,
      send: (text) => {
        sent.push(text)
      },
      close: (code, reason) => {
        readyState = 3
        fire('close', code, Buffer.from(reason))
      },
      terminate: () => {},
      ping: () => fire('pong'),
      pause: () => {},
      resume: () => {},
      on: add,
      once: add,
      removeListener: () => {},
    }
    const ended = disconnectRecorder()
    const s = await server({ onEvent: (_s, data) => ({ echo: data }), onDisconnect: ended.onDisconnect })
    try {
      const result = await s.app.wsSessions.attach({ transport, remoteAddress: '10.0.0.2', log: s.app.log })
      assert.ok(result.ok)
      fire('message', Buffer.from(JSON.stringify({ event: 'ping.me', data: 1, id: 1 })), false)
      await until(() => sent.length === 1, { timeoutMs: 3000, what: 'the reply' })
      assert.deepEqual(JSON.parse(sent[0] as string), { id: 1, ok: true, data: { echo: 1 } })
      readyState = 3
      fire('close', 1000, Buffer.from('bye'))
      await until(() => ended.calls.length === 1, { timeoutMs: 3000, what: 'onDisconnect' })
      assert.deepEqual(ended.calls, [{ sid: result.session.sid, code: 1000, reason: 'bye' }])
    } finally {
      await s.close()
    }
  })
})
