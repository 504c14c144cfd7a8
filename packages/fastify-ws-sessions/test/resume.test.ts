import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { describe, it } from 'node:test'
import { type Frame, TestClient, until } from '@session-gateway/test-kit'
import type { FastifyRequest } from 'fastify'
import type { ResumeOptions, SessionSnapshot, WsSessionsOptions } from '../src/index.js'
import { disconnectRecorder, startServer, type TestServer } from './helpers.js'

const SECRET = 'resume-test-secret-0123456789abcdef'

interface Hooks {
  detached: Array<{ sid: string; code: number; reason: string }>
  resumed: Array<{ sid: string; previousNode: string; replayed: number }>
  ended: ReturnType<typeof disconnectRecorder>
}

async function resumeServer(
  resume: Partial<ResumeOptions> = {},
  more: WsSessionsOptions = {},
): Promise<{ server: TestServer; hooks: Hooks }> {
  const hooks: Hooks = { detached: [], resumed: [], ended: disconnectRecorder() }
  const server = await startServer({
    heartbeatIntervalMs: 0,
    resume: { windowMs: 60_000, secret: SECRET, nodeId: 'n1', ...resume },
    onDetach: (s, code, reason) => {
      hooks.detached.push({ sid: s.sid, code, reason })
    },
    onResume: (s, info) => {
      hooks.resumed.push({ sid: s.sid, ...info })
    },
    onDisconnect: hooks.ended.onDisconnect,
    ...more,
  })
  return { server, hooks }
}

/** Opens a connection and takes its `session` frame. */
async function connect(url: string, resume?: { token: string; lastSeq: number | string }) {
  const target = resume ? `${url}?resume=${encodeURIComponent(resume.token)}&last_seq=${resume.lastSeq}` : url
  const client = await TestClient.open(target)
  const first: Frame = await client.next()
  assert.equal(first.event, 'session')
  assert.equal('seq' in first, false, 'a session frame carries no seq')
  return {
    client,
    session: first.data as {
      sid: string
      resumeToken: string
      resumed: boolean
      replayed?: number
      reason?: string
    },
  }
}

async function take(client: TestClient, n: number): Promise<Frame[]> {
  const frames: Frame[] = []
  for (let i = 0; i < n; i++) frames.push(await client.next())
  return frames
}

describe('resume: the session frame and seq', () => {
  it('the first frame names the session and its token; event frames carry seq 1, 2, … and replies none', async (t) => {
    const { server } = await resumeServer()
    t.after(() => server.close())
    const { client, session } = await connect(server.url)
    assert.equal(session.resumed, false)
    assert.equal('reason' in session, false)
    assert.ok(session.resumeToken.length >= 22)
    assert.equal(await client.sid(), session.sid)
    const registry = server.app.wsSessions
    assert.equal(registry.deliver(session.sid, 'a', 1), 'delivered')
    registry.emitToRoom('none', 'x')
    registry.join(session.sid, 'r')
    assert.equal(registry.emitToRoom('r', 'b'), 1)
    assert.equal(registry.broadcast('c', { k: true }), 1)
    assert.deepEqual(await take(client, 3), [
      { event: 'a', data: 1, seq: 1 },
      { event: 'b', seq: 2 },
      { event: 'c', data: { k: true }, seq: 3 },
    ])
    assert.equal(registry.get(session.sid)?.lastSeq, 3)
    assert.deepEqual(await client.exchange({ event: 'GET_SID', id: 9 }), {
      id: 9,
      ok: true,
      data: { sid: session.sid },
    })
    await client.close()
  })
})

describe('resume: the upgrade answer', () => {
  /** Counts the writes (system calls) on each upgraded TCP socket, in connection order. */
  function countWrites(server: TestServer): number[] {
    const counts: number[] = []
    server.app.server.prependListener('upgrade', (_request, socket: Socket) => {
      const i = counts.push(0) - 1
      const raw = socket as Socket & {
        _write: (...args: unknown[]) => unknown
        _writev: (...args: unknown[]) => unknown
      }
      const write = raw._write
      const writev = raw._writev
      raw._write = function (this: Socket, ...args: unknown[]) {
        counts[i] = (counts[i] ?? 0) + 1
        return write.apply(this, args)
      }
      raw._writev = function (this: Socket, ...args: unknown[]) {
        counts[i] = (counts[i] ?? 0) + 1
        return writev.apply(this, args)
      }
    })
    return counts
  }

  it('the 101, the session frame and the replayed frames reach the socket in one write', async (t) => {
    const { server, hooks } = await resumeServer()
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const writes = countWrites(server)
    const { client, session } = await connect(server.url)
    assert.deepEqual(writes, [1], 'a new session: the 101 and the session frame in one write')
    client.ws.terminate()
    await until(() => hooks.detached.length === 1, { timeoutMs: 3000, what: 'onDetach' })
    registry.send(session.sid, 'e', 1)
    registry.send(session.sid, 'e', 2)
    const back = await connect(server.url, { token: session.resumeToken, lastSeq: 0 })
    assert.equal(back.session.replayed, 2)
    assert.equal((await take(back.client, 2)).length, 2)
    assert.deepEqual(
      writes,
      [1, 1],
      'a resume: the 101, the session frame and both replayed frames in one write',
    )
    await back.client.close()
  })
})

describe('resume on the same node', () => {
  it('a dropped connection detaches; the resume gets the same SID, rooms and every missed frame in order, then live ones', async (t) => {
    const { server, hooks } = await resumeServer()
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const { client, session } = await connect(server.url)
    const { sid } = session
    registry.join(sid, 'lobby')
    registry.send(sid, 'e', 1)
    registry.send(sid, 'e', 2)
    await take(client, 2)
    client.ws.terminate()
    await until(() => hooks.detached.length === 1, { timeoutMs: 3000, what: 'onDetach' })
    assert.deepEqual(hooks.detached, [{ sid, code: 1006, reason: '' }])
    const held = registry.get(sid)
    assert.ok(held?.detached)
    assert.equal(held.isOpen, false)
    assert.equal(registry.detachedCount, 1)
    assert.equal(registry.deliver(sid, 'e', 3), 'kept')
    assert.equal(registry.emitToRoom('lobby', 'e', 4), 0, 'kept frames are not counted delivered')
    assert.equal(registry.send(sid, 'e', 5), false)

    const back = await connect(server.url, { token: session.resumeToken, lastSeq: 2 })
    assert.deepEqual(
      { ...back.session, resumeToken: '' },
      { sid, resumeToken: '', resumed: true, replayed: 3 },
    )
    assert.notEqual(back.session.resumeToken, session.resumeToken)
    assert.deepEqual(await take(back.client, 3), [
      { event: 'e', data: 3, seq: 3 },
      { event: 'e', data: 4, seq: 4 },
      { event: 'e', data: 5, seq: 5 },
    ])
    assert.equal(registry.deliver(sid, 'e', 6), 'delivered')
    assert.deepEqual(await back.client.next(), { event: 'e', data: 6, seq: 6 })
    assert.deepEqual([...registry.roomsOf(sid)], ['lobby'])
    assert.equal(await back.client.sid(), sid)
    assert.deepEqual(hooks.resumed, [{ sid, previousNode: 'n1', replayed: 3 }])
    assert.equal(registry.detachedCount, 0)
    assert.deepEqual(hooks.ended.calls, [])
    await back.client.close()
    await until(() => hooks.ended.calls.length === 1)
    assert.deepEqual(hooks.ended.calls, [{ sid, code: 1000, reason: '' }])
  })

  it('a lower last_seq on a still-open connection replays what the client missed there; the old connection closes 1000 without ending anything', async (t) => {
    const { server, hooks } = await resumeServer()
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const { client, session } = await connect(server.url)
    for (let i = 1; i <= 3; i++) registry.send(session.sid, 'e', i)
    await take(client, 3)
    // The client saw only seq 1 (say the rest died with its TCP connection).
    const back = await connect(server.url, { token: session.resumeToken, lastSeq: 1 })
    assert.equal(back.session.sid, session.sid)
    assert.equal(back.session.replayed, 2)
    assert.deepEqual(
      (await take(back.client, 2)).map((f) => f.seq),
      [2, 3],
    )
    assert.deepEqual(await client.closed, { code: 1000, reason: 'session resumed elsewhere' })
    assert.equal(registry.size, 1)
    assert.deepEqual(hooks.detached, [])
    assert.deepEqual(hooks.ended.calls, [])
    assert.equal(registry.deliver(session.sid, 'e', 4), 'delivered')
    assert.equal((await back.client.next()).seq, 4)
    await back.client.close()
  })

  it('window expiry ends the session with exactly one onDisconnect; its token is then expired', async (t) => {
    const { server, hooks } = await resumeServer({ windowMs: 30 })
    t.after(() => server.close())
    const { client, session } = await connect(server.url)
    client.ws.terminate()
    await until(() => hooks.ended.calls.length === 1, { timeoutMs: 3000, what: 'the window to end' })
    assert.deepEqual(hooks.ended.calls, [{ sid: session.sid, code: 1006, reason: 'resume window expired' }])
    assert.equal(hooks.detached.length, 1)
    assert.equal(server.app.wsSessions.has(session.sid), false)
    const late = await connect(server.url, { token: session.resumeToken, lastSeq: 0 })
    assert.equal(late.session.resumed, false)
    assert.equal(late.session.reason, 'expired')
    assert.notEqual(late.session.sid, session.sid)
    await late.client.close()
    await until(() => hooks.ended.calls.length === 2)
    assert.equal(hooks.ended.for(session.sid).length, 1)
    assert.equal(server.app.wsSessions.activeTimers, 0)
  })

  it('final closes end the session at once: client 1000, 1001, no code; a server close; a policy close', async (t) => {
    const { server, hooks } = await resumeServer({}, { maxBadFrames: 0 })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const ends: Array<[string, (c: TestClient, sid: string) => void, number]> = [
      ['client 1000', (c) => c.ws.close(1000), 1000],
      ['client 1001', (c) => c.ws.close(1001), 1001],
      ['client close without a code', (c) => c.ws.close(), 1005],
      ['server close (CI DISCONNECT)', (_c, sid) => registry.close(sid, 4001, 'kicked'), 4001],
      ['policy (bad frame budget)', (c) => c.send('not json'), 1008],
    ]
    for (const [what, end, code] of ends) {
      const { client, session } = await connect(server.url)
      end(client, session.sid)
      await until(() => hooks.ended.for(session.sid).length === 1, { timeoutMs: 3000, what: what })
      assert.equal(hooks.ended.for(session.sid)[0]?.code, code, what)
      assert.equal(registry.has(session.sid), false, what)
      const retry = await connect(server.url, { token: session.resumeToken, lastSeq: 0 })
      assert.equal(retry.session.reason, 'expired', what)
      await retry.client.close()
    }
    assert.deepEqual(hooks.detached, [])
  })

  it('a close code a client gives other than 1000/1001/1005 detaches', async (t) => {
    const { server, hooks } = await resumeServer()
    t.after(() => server.close())
    const { client, session } = await connect(server.url)
    client.ws.close(4100, 'app going to background')
    await until(() => hooks.detached.length === 1)
    assert.deepEqual(hooks.detached, [{ sid: session.sid, code: 4100, reason: 'app going to background' }])
    assert.ok(server.app.wsSessions.get(session.sid)?.detached)
  })

  it('a CI close of a detached session ends it at once with its code', async (t) => {
    const { server, hooks } = await resumeServer()
    t.after(() => server.close())
    const { client, session } = await connect(server.url)
    client.ws.terminate()
    await until(() => hooks.detached.length === 1)
    assert.equal(server.app.wsSessions.close(session.sid, 4002, 'banned'), true)
    assert.deepEqual(hooks.ended.calls, [])
    await until(() => hooks.ended.calls.length === 1)
    assert.deepEqual(hooks.ended.calls, [{ sid: session.sid, code: 4002, reason: 'banned' }])
  })

  it('detachAll closes live connections with 1012 and keeps their sessions', async (t) => {
    const { server, hooks } = await resumeServer()
    t.after(() => server.close())
    const { client, session } = await connect(server.url)
    assert.equal(server.app.wsSessions.detachAll(), 1)
    assert.deepEqual(await client.closed, { code: 1012, reason: 'service restart' })
    await until(() => hooks.detached.length === 1)
    assert.deepEqual(hooks.detached, [{ sid: session.sid, code: 1012, reason: 'service restart' }])
    const back = await connect(server.url, { token: session.resumeToken, lastSeq: 0 })
    assert.equal(back.session.sid, session.sid)
    await back.client.close()
  })

  it('fastify.close() ends detached sessions too, each reported once', async () => {
    const { server, hooks } = await resumeServer()
    const { client, session } = await connect(server.url)
    client.ws.terminate()
    await until(() => hooks.detached.length === 1)
    await server.close()
    assert.deepEqual(hooks.ended.calls, [{ sid: session.sid, code: 1001, reason: 'server shutting down' }])
    assert.equal(server.app.wsSessions.activeTimers, 0)
  })
})

describe('resume tokens', () => {
  it('forged, altered, other-deployment and malformed attempts get a new session and leave the real one resumable', async (t) => {
    const { server, hooks } = await resumeServer()
    t.after(() => server.close())
    const other = await resumeServer({ secret: 'another-deployment-secret-0123456789' })
    t.after(() => other.server.close())
    const { client, session } = await connect(server.url)
    server.app.wsSessions.send(session.sid, 'e', 1)
    await client.next()
    client.ws.terminate()
    await until(() => hooks.detached.length === 1)
    const foreign = (await connect(other.server.url)).session.resumeToken
    const [payload = '', mac = ''] = session.resumeToken.split('.')
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
    const attempts: Array<[string, string, number | string]> = [
      ['forged', 'x'.repeat(60), 0],
      ['altered payload', `${flip(payload, 5)}.${mac}`, 0],
      ['altered MAC', `${payload}.${flip(mac, mac.length - 1)}`, 0],
      ['another deployment', foreign, 0],
      ['last_seq not a number', session.resumeToken, 'abc'],
      ['last_seq beyond what was sent', session.resumeToken, 2],
    ]
    for (const [what, token, lastSeq] of attempts) {
      const attempt = await connect(server.url, { token, lastSeq })
      assert.equal(attempt.session.resumed, false, what)
      assert.equal(attempt.session.reason, 'invalid', what)
      assert.notEqual(attempt.session.sid, session.sid, what)
      await attempt.client.close()
    }
    assert.ok(server.app.wsSessions.get(session.sid)?.detached, 'the real session is undisturbed')
    const back = await connect(server.url, { token: session.resumeToken, lastSeq: 1 })
    assert.equal(back.session.sid, session.sid)
    assert.equal(back.session.resumed, true)
    await back.client.close()
  })

  it('a token is good for one resume: the used one is expired, the new one works', async (t) => {
    const { server } = await resumeServer()
    t.after(() => server.close())
    const first = await connect(server.url)
    const second = await connect(server.url, { token: first.session.resumeToken, lastSeq: 0 })
    assert.equal(second.session.resumed, true)
    const reused = await connect(server.url, { token: first.session.resumeToken, lastSeq: 0 })
    assert.equal(reused.session.reason, 'expired')
    await reused.client.close()
    assert.ok(server.app.wsSessions.get(first.session.sid)?.isOpen, 'the reuse did not disturb the session')
    const third = await connect(server.url, { token: second.session.resumeToken, lastSeq: 0 })
    assert.equal(third.session.sid, first.session.sid)
    await third.client.close()
  })

  it('with authentication, only the same user (sub) resumes; another user is invalid and disturbs nothing', async (t) => {
    const authenticate = (request: FastifyRequest) => {
      const sub = request.headers['x-user']
      return typeof sub === 'string' ? { sub } : undefined
    }
    const { server } = await resumeServer({}, { authenticate })
    t.after(() => server.close())
    const as = (user: string, query = '') =>
      TestClient.open(`${server.url}${query}`, { headers: { 'x-user': user } }).then(async (client) => ({
        client,
        session: (await client.next()).data,
      }))
    const alice = await as('alice')
    const q = `?resume=${encodeURIComponent(alice.session.resumeToken)}&last_seq=0`
    const mallory = await as('mallory', q)
    assert.equal(mallory.session.reason, 'invalid')
    assert.notEqual(mallory.session.sid, alice.session.sid)
    assert.ok(server.app.wsSessions.get(alice.session.sid)?.isOpen)
    const again = await as('alice', q)
    assert.equal(again.session.sid, alice.session.sid)
    assert.equal(again.session.resumed, true)
    assert.equal(server.app.wsSessions.get(alice.session.sid)?.user?.sub, 'alice')
    await Promise.all([mallory.client.close(), again.client.close()])
  })
})

describe('replay bounds', () => {
  it('a detached session flooded past its frame bound ends (replay buffer full), once', async (t) => {
    const { server, hooks } = await resumeServer({ maxReplayFrames: 5 })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const { client, session } = await connect(server.url)
    client.ws.terminate()
    await until(() => hooks.detached.length === 1)
    const results = Array.from({ length: 8 }, (_, i) => registry.deliver(session.sid, 'flood', i))
    assert.deepEqual(results, ['kept', 'kept', 'kept', 'kept', 'kept', 'none', 'none', 'none'])
    await until(() => hooks.ended.calls.length === 1)
    assert.deepEqual(hooks.ended.calls, [{ sid: session.sid, code: 1006, reason: 'replay buffer full' }])
    assert.equal(registry.replayBytes, 0)
  })

  it('the node bound holds: live connections give up their kept frames first, then a detached session ends', async (t) => {
    const frame = JSON.stringify({ event: 'x', data: 'y'.repeat(80) }).length
    const { server, hooks } = await resumeServer({
      maxNodeReplayBytes: frame * 10,
      maxReplayBytes: frame * 10,
    })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const live = await connect(server.url)
    const gone = await connect(server.url)
    for (let i = 0; i < 6; i++) registry.send(live.session.sid, 'x', 'y'.repeat(80))
    gone.client.ws.terminate()
    await until(() => hooks.detached.length === 1)
    const results: string[] = []
    for (let i = 0; i < 12; i++) {
      results.push(registry.deliver(gone.session.sid, 'x', 'y'.repeat(80)))
      assert.ok(registry.replayBytes <= frame * 10, `node bound held after ${i + 1} frames`)
    }
    assert.deepEqual(results, [...Array(10).fill('kept'), 'none', 'none'])
    await until(() => hooks.ended.calls.length === 1)
    assert.deepEqual(hooks.ended.for(gone.session.sid), [
      { sid: gone.session.sid, code: 1006, reason: 'replay buffer full' },
    ])
    // The live session's kept frames went first: resuming it from seq 0 is now a gap.
    const retry = await connect(server.url, { token: live.session.resumeToken, lastSeq: 0 })
    assert.equal(retry.session.reason, 'gap')
    await retry.client.close()
    await live.client.closed
  })

  it('gap: frames after last_seq no longer kept -> a new session, and the old one ends', async (t) => {
    const { server, hooks } = await resumeServer({ maxReplayFrames: 2 })
    t.after(() => server.close())
    const registry = server.app.wsSessions
    const { client, session } = await connect(server.url)
    for (let i = 1; i <= 5; i++) registry.send(session.sid, 'e', i)
    await take(client, 5)
    client.ws.terminate()
    await until(() => hooks.detached.length === 1)
    const ok = await connect(server.url, { token: session.resumeToken, lastSeq: 3 })
    assert.equal(ok.session.replayed, 2)
    ok.client.ws.terminate()
    await until(() => hooks.detached.length === 2)
    const gap = await connect(server.url, { token: ok.session.resumeToken, lastSeq: 1 })
    assert.equal(gap.session.resumed, false)
    assert.equal(gap.session.reason, 'gap')
    await until(() => hooks.ended.for(session.sid).length === 1)
    assert.deepEqual(hooks.ended.for(session.sid), [{ sid: session.sid, code: 1006, reason: 'resume gap' }])
    await gap.client.close()
  })
})

describe('resume across nodes: locate, handOver, movedTo', () => {
  it('a token of another node is resumed through locate; the old node hands the session over without onDisconnect', async (t) => {
    const n1 = await resumeServer({ nodeId: 'n1' })
    t.after(() => n1.server.close())
    const located: Array<{ node: string; lastSeq: number }> = []
    const n2 = await resumeServer({
      nodeId: 'n2',
      locate: async (claim, context) => {
        located.push({ node: claim.node, lastSeq: context.lastSeq })
        const answer = n1.server.app.wsSessions.handOver({
          token: claim.token,
          lastSeq: context.lastSeq,
          toNode: 'n2',
          user: context.user,
        })
        // It travels in an AMQP body between nodes.
        return JSON.parse(JSON.stringify(answer)) as SessionSnapshot
      },
    })
    t.after(() => n2.server.close())
    const old = n1.server.app.wsSessions
    const { client, session } = await connect(n1.server.url)
    const connectedAt = old.get(session.sid)?.connectedAt
    old.join(session.sid, 'lobby')
    for (let i = 1; i <= 3; i++) old.send(session.sid, 'e', i)
    await take(client, 1)
    const moved = await connect(n2.server.url, { token: session.resumeToken, lastSeq: 1 })
    assert.deepEqual(located, [{ node: 'n1', lastSeq: 1 }])
    assert.equal(moved.session.sid, session.sid)
    assert.equal(moved.session.replayed, 2)
    assert.deepEqual(
      (await take(moved.client, 2)).map((f) => [f.data, f.seq]),
      [
        [2, 2],
        [3, 3],
      ],
    )
    assert.deepEqual(await client.closed, { code: 1000, reason: 'session resumed elsewhere' })
    const now = n2.server.app.wsSessions
    assert.deepEqual([...now.roomsOf(session.sid)], ['lobby'])
    assert.equal(now.get(session.sid)?.connectedAt, connectedAt)
    assert.equal(now.deliver(session.sid, 'e', 4), 'delivered')
    assert.equal((await moved.client.next()).seq, 4)
    assert.equal(old.has(session.sid), false)
    assert.equal(old.movedTo(session.sid), 'n2')
    assert.equal(now.movedTo(session.sid), undefined)
    assert.deepEqual(n1.hooks.ended.calls, [], 'no onDisconnect on the node that handed it over')
    assert.deepEqual(n2.hooks.resumed, [{ sid: session.sid, previousNode: 'n1', replayed: 2 }])
    // The token used for the move is spent; the new one names n2 and resumes there.
    assert.deepEqual(old.handOver({ token: session.resumeToken, lastSeq: 0, toNode: 'n3' }), {
      refused: 'expired',
    })
    moved.client.ws.terminate()
    await until(() => n2.hooks.detached.length === 1)
    const again = await connect(n2.server.url, { token: moved.session.resumeToken, lastSeq: 4 })
    assert.equal(again.session.sid, session.sid)
    await again.client.close()
  })

  it('adoptDetached: a hand-over nobody waits for is kept detached, resumable, and ends once', async (t) => {
    const n1 = await resumeServer({ nodeId: 'n1' })
    t.after(() => n1.server.close())
    const n2 = await resumeServer({ nodeId: 'n2', windowMs: 300 })
    t.after(() => n2.server.close())
    const { client, session } = await connect(n1.server.url)
    n1.server.app.wsSessions.join(session.sid, 'lobby')
    n1.server.app.wsSessions.send(session.sid, 'e', 1)
    await take(client, 1)
    const answer = n1.server.app.wsSessions.handOver({ token: session.resumeToken, lastSeq: 0, toNode: 'n2' })
    assert.ok(!('refused' in answer))
    const now = n2.server.app.wsSessions
    assert.equal(now.adoptDetached(answer, 'n1', n2.server.app.log), true)
    assert.equal(now.adoptDetached(answer, 'n1', n2.server.app.log), false, 'the SID is already here')
    assert.equal(now.get(session.sid)?.detached, true)
    assert.deepEqual([...now.roomsOf(session.sid)], ['lobby'])
    assert.equal(now.deliver(session.sid, 'e', 2), 'kept')
    await until(() => n2.hooks.detached.length === 1)
    assert.deepEqual(n2.hooks.resumed, [{ sid: session.sid, previousNode: 'n1', replayed: 0 }])
    await until(() => n2.hooks.ended.calls.length === 1, { timeoutMs: 5000 })
    assert.equal(n2.hooks.ended.calls[0]?.sid, session.sid)
    assert.equal(now.has(session.sid), false)
    assert.deepEqual(n1.hooks.ended.calls, [])
  })

  it('drain: connections closed 1012, sessions detached and handed over, new upgrades refused', async (t) => {
    const n1 = await resumeServer({ nodeId: 'n1' })
    t.after(() => n1.server.close())
    const { client, session } = await connect(n1.server.url)
    const registry = n1.server.app.wsSessions
    assert.equal(registry.drain(), 1)
    assert.equal((await client.closed).code, 1012)
    await until(() => n1.hooks.detached.length === 1)
    assert.equal(registry.closing, true)
    assert.equal(registry.get(session.sid)?.detached, true)
    await assert.rejects(TestClient.open(n1.server.url), /503/)
    const answer = registry.handOver({ token: session.resumeToken, lastSeq: 0, toNode: 'n2' })
    assert.equal('refused' in answer, false, 'a draining node still hands its sessions over')
    assert.equal(registry.size, 0)
  })

  it('drain, then a takeover before the 1012 close completed: onDetach still runs (1012), then the hand-over', async (t) => {
    const n1 = await resumeServer({ nodeId: 'n1' })
    t.after(() => n1.server.close())
    const { client, session } = await connect(n1.server.url)
    const registry = n1.server.app.wsSessions
    // The client reads nothing: the 1012 close frame stays unanswered, the close is under way.
    const raw = (client.ws as unknown as { _socket: Socket })._socket
    raw.pause()
    assert.equal(registry.drain(), 1)
    const answer = registry.handOver({ token: session.resumeToken, lastSeq: 0, toNode: 'n2' })
    assert.equal('refused' in answer, false, 'the session is handed over')
    await until(() => n1.hooks.detached.length === 1, { timeoutMs: 3000, what: 'onDetach' })
    assert.deepEqual(n1.hooks.detached, [{ sid: session.sid, code: 1012, reason: 'service restart' }])
    raw.resume()
    await client.waitClosed()
    assert.equal(registry.size, 0)
    assert.equal(n1.hooks.detached.length, 1, 'once')
    assert.deepEqual(n1.hooks.ended.calls, [], 'handed over, not ended')
  })

  it('without locate, or when locate fails, a token of another node gives a new session: unavailable', async (t) => {
    const n1 = await resumeServer({ nodeId: 'n1' })
    t.after(() => n1.server.close())
    const n2 = await resumeServer({ nodeId: 'n2' })
    t.after(() => n2.server.close())
    const n3 = await resumeServer({
      nodeId: 'n3',
      locate: async () => {
        throw new Error('node n1 did not answer in time')
      },
    })
    t.after(() => n3.server.close())
    const { session } = await connect(n1.server.url)
    for (const node of [n2, n3]) {
      const attempt = await connect(node.server.url, { token: session.resumeToken, lastSeq: 0 })
      assert.equal(attempt.session.reason, 'unavailable')
      await attempt.client.close()
    }
    assert.ok(n1.server.app.wsSessions.get(session.sid)?.isOpen)
  })

  it('handOver refuses another user, a token of another node, and a gap (which ends the session there)', async (t) => {
    const n1 = await resumeServer(
      { nodeId: 'n1', maxReplayFrames: 1 },
      {
        authenticate: (request: FastifyRequest) => ({ sub: String(request.headers['x-user'] ?? 'anon') }),
      },
    )
    t.after(() => n1.server.close())
    const client = await TestClient.open(n1.server.url, { headers: { 'x-user': 'alice' } })
    const { sid, resumeToken } = (await client.next()).data
    const registry = n1.server.app.wsSessions
    assert.deepEqual(
      registry.handOver({ token: resumeToken, lastSeq: 0, toNode: 'n2', user: { sub: 'bob' } }),
      {
        refused: 'invalid',
      },
    )
    assert.deepEqual(registry.handOver({ token: 'nope', lastSeq: 0, toNode: 'n2' }), { refused: 'invalid' })
    registry.send(sid, 'e', 1)
    registry.send(sid, 'e', 2)
    assert.deepEqual(
      registry.handOver({ token: resumeToken, lastSeq: 0, toNode: 'n2', user: { sub: 'alice' } }),
      { refused: 'gap' },
    )
    await until(() => n1.hooks.ended.for(sid).length === 1)
    assert.equal(registry.movedTo(sid), undefined)
  })
})

describe('resume options', () => {
  it('are checked at registration with exact messages', async () => {
    const cases: Array<[unknown, string]> = [
      [
        { windowMs: -1 },
        'fastify-ws-sessions: option "resume.windowMs" must be an integer from 0 to 2147483647 (got -1)',
      ],
      [
        {},
        'fastify-ws-sessions: option "resume.windowMs" must be an integer from 0 to 2147483647 (got undefined)',
      ],
      [
        { windowMs: 1000, secret: 'short' },
        'fastify-ws-sessions: option "resume.secret" must be a string of at least 32 bytes',
      ],
      [
        { windowMs: 1000, nodeId: '' },
        'fastify-ws-sessions: option "resume.nodeId" must be a string of 1-128 characters (got "")',
      ],
      [{ windowMs: 1000, colour: 1 }, 'fastify-ws-sessions: option "resume" has an unknown field "colour"'],
      [
        { windowMs: 1000, maxReplayFrames: 0 },
        'fastify-ws-sessions: option "resume.maxReplayFrames" must be an integer from 1 to 1000000 (got 0)',
      ],
      [
        { windowMs: 1000, maxReplayBytes: 10, maxNodeReplayBytes: 5 },
        'fastify-ws-sessions: option "resume.maxNodeReplayBytes" must be at least resume.maxReplayBytes',
      ],
      [
        { windowMs: 1000, locate: 'n2' },
        'fastify-ws-sessions: option "resume.locate" must be a function (got "n2")',
      ],
      ['yes', 'fastify-ws-sessions: option "resume" must be false or { windowMs, secret?, nodeId?, … }'],
    ]
    for (const [resume, message] of cases) {
      await assert.rejects(
        startServer({ resume: resume as ResumeOptions }),
        (err: Error) => err instanceof TypeError && err.message === message,
        message,
      )
    }
  })

  it('resume off (false or windowMs 0): version 1 frames, no session frame, no seq, a dropped connection ends', async (t) => {
    const recorder = disconnectRecorder()
    const server = await startServer({
      heartbeatIntervalMs: 0,
      resume: { windowMs: 0 },
      onDisconnect: recorder.onDisconnect,
    })
    t.after(() => server.close())
    const client = await TestClient.open(`${server.url}?resume=whatever&last_seq=0`)
    const sid = await client.sid()
    server.app.wsSessions.send(sid, 'e', 1)
    assert.deepEqual(await client.next(), { event: 'e', data: 1 })
    assert.equal(server.app.wsSessions.nodeId, undefined)
    client.ws.terminate()
    await until(() => recorder.calls.length === 1)
    assert.deepEqual(recorder.calls, [{ sid, code: 1006, reason: '' }])
  })
})
