import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type ClientObservations,
  type ClientOptions,
  connect,
  type GatewayClient,
  type RequestOutcome,
} from '../src/index.js'
import { FakeClock } from './helpers/fake-clock.js'
import { type FakeSocket, fakeWebSocket } from './helpers/fake-socket.js'

const SID_A = 'A'.repeat(22)
const SID_B = 'B'.repeat(22)
const TOKEN_1 = 't1-'.padEnd(30, 'x')
const TOKEN_2 = 't2-'.padEnd(30, 'y')

function setup(options: Omit<ClientOptions, 'WebSocket' | 'clock'> = {}) {
  const clock = new FakeClock()
  const { WebSocket, sockets } = fakeWebSocket()
  const client = connect('ws://gw.test/ws?tenant=t1', {
    WebSocket,
    clock,
    random: () => 0.5,
    reconnect: { initialDelayMs: 100 },
    ...options,
  })
  const seen: Array<{ event: string; data: unknown; seq: number | undefined }> = []
  client.on('*', (data, frame) => seen.push({ event: frame.event, data, seq: frame.seq }))
  const log = observeAll(client)
  const last = () => sockets.at(-1) as FakeSocket
  /** The connection drops and the next attempt is made (the longest delay these tests reach is 400 ms). */
  const dropAndRetry = () => {
    const before = sockets.length
    last().end(1006)
    clock.tick(1000)
    assert.equal(sockets.length, before + 1)
  }
  return { client, clock, sockets, seen, log, last, dropAndRetry }
}

function observeAll(client: GatewayClient) {
  const log = {
    sessions: [] as Array<ClientObservations['session']>,
    resumed: [] as Array<ClientObservations['resumed']>,
    reset: [] as Array<ClientObservations['reset']>,
    warnings: [] as string[],
    settled: [] as RequestOutcome[],
    duplicates: 0,
  }
  client.observe('session', (s) => log.sessions.push(s))
  client.observe('resumed', (r) => log.resumed.push(r))
  client.observe('reset', (r) => log.reset.push(r))
  client.observe('warning', (w) => log.warnings.push(w.message))
  client.observe('settled', (o) => log.settled.push(o))
  client.observe('frame', (f) => {
    if (f.duplicate) log.duplicates++
  })
  return log
}

const sessionFrame = (data: Record<string, unknown>) => ({ event: 'session', data })
const news = (seq: number) => ({ event: 'news', data: { n: seq }, seq })

describe('resume (PROTOCOL.md 4.1) against a fake gateway', () => {
  it('resumes with the token and the last seq, keeps the SID, and delivers each event once, in order', async () => {
    const { client, seen, log, last, dropAndRetry } = setup()
    last().accept()
    last().push(sessionFrame({ sid: SID_A, resumeToken: TOKEN_1, resumed: false }))
    assert.deepEqual(await client.ready(), { sid: SID_A, resumed: false, replayed: 0 })
    last().push(news(1))
    last().push(news(2))
    assert.equal(client.lastSeq, 2)

    dropAndRetry()
    assert.equal(client.sid, SID_A, 'the SID is kept while reconnecting')
    const q = last().query
    assert.equal(q.get('resume'), TOKEN_1)
    assert.equal(q.get('last_seq'), '2')
    assert.equal(q.get('tenant'), 't1', 'the URL keeps its own query')
    last().accept()
    // The gateway replays from its buffer: a frame the client already has (2) comes again, then 3.
    last().push(sessionFrame({ sid: SID_A, resumeToken: TOKEN_2, resumed: true, replayed: 2 }))
    last().push(news(2))
    last().push(news(3))
    last().push(news(3))
    last().push(news(4))

    assert.deepEqual(
      seen.map((e) => e.seq),
      [1, 2, 3, 4],
    )
    assert.equal(log.duplicates, 2)
    assert.deepEqual(log.resumed, [{ sid: SID_A, replayed: 2 }])
    assert.deepEqual(log.reset, [])
    assert.equal(client.state.status, 'open')

    // The next drop resumes with the new token (each is good for one resume) and seq 4.
    dropAndRetry()
    assert.equal(last().query.get('resume'), TOKEN_2)
    assert.equal(last().query.get('last_seq'), '4')
  })

  it('reset: the gateway gives a new session (reason), seq starts over, nothing of the new one is dropped', () => {
    const { client, seen, log, last, dropAndRetry } = setup()
    last().accept()
    last().push(sessionFrame({ sid: SID_A, resumeToken: TOKEN_1, resumed: false }))
    last().push(news(1))
    last().push(news(2))
    last().push(news(3))
    dropAndRetry()
    last().accept()
    last().push(sessionFrame({ sid: SID_B, resumeToken: TOKEN_2, resumed: false, reason: 'expired' }))
    last().push(news(1))
    last().push(news(2))
    assert.equal(client.sid, SID_B)
    assert.deepEqual(log.reset, [{ sid: SID_B, previousSid: SID_A, reason: 'expired' }])
    assert.deepEqual(log.sessions.at(-1), {
      sid: SID_B,
      resumed: false,
      replayed: 0,
      previousSid: SID_A,
      reason: 'expired',
    })
    assert.deepEqual(
      seen.map((e) => e.seq),
      [1, 2, 3, 1, 2],
    )
    assert.equal(log.duplicates, 0)
    // The next resume is for the new session, from its own seq.
    dropAndRetry()
    assert.equal(last().query.get('resume'), TOKEN_2)
    assert.equal(last().query.get('last_seq'), '2')
  })

  for (const reason of ['invalid', 'gap', 'unavailable'] as const) {
    it(`reset reports the gateway's reason "${reason}"`, () => {
      const { log, last, dropAndRetry } = setup()
      last().accept()
      last().push(sessionFrame({ sid: SID_A, resumeToken: TOKEN_1, resumed: false }))
      dropAndRetry()
      last().accept()
      last().push(sessionFrame({ sid: SID_B, resumeToken: TOKEN_2, resumed: false, reason }))
      assert.deepEqual(log.reset, [{ sid: SID_B, previousSid: SID_A, reason }])
    })
  }

  it('resume off on the gateway (no session frame): the SID from GET_SID, a new one after a drop is a reset "resume-off"', () => {
    const { client, seen, log, last, dropAndRetry } = setup()
    last().accept()
    last().answerSid(SID_A)
    last().push({ event: 'news', data: 1 })
    assert.equal(client.sid, SID_A)
    dropAndRetry()
    assert.equal(last().query.has('resume'), false, 'nothing to resume with')
    last().accept()
    last().answerSid(SID_B)
    last().push({ event: 'news', data: 1 })
    assert.deepEqual(log.reset, [{ sid: SID_B, previousSid: SID_A, reason: 'resume-off' }])
    assert.equal(seen.length, 2, 'frames without seq are never taken for duplicates')
    assert.deepEqual(
      log.settled.map((o) => [o.event, o.ok]),
      [
        ['GET_SID', true],
        ['GET_SID', true],
      ],
    )
  })

  it('resume: false in the client never sends a token: a reset "resume-off"', () => {
    const { log, last, dropAndRetry } = setup({ resume: false })
    last().accept()
    last().push(sessionFrame({ sid: SID_A, resumeToken: TOKEN_1, resumed: false }))
    dropAndRetry()
    assert.equal(last().query.has('resume'), false)
    last().accept()
    last().push(sessionFrame({ sid: SID_B, resumeToken: TOKEN_2, resumed: false }))
    assert.deepEqual(log.reset, [{ sid: SID_B, previousSid: SID_A, reason: 'resume-off' }])
  })

  it('a drop before the session frame keeps the unused token for the next attempt', () => {
    const { last, dropAndRetry } = setup()
    last().accept()
    last().push(sessionFrame({ sid: SID_A, resumeToken: TOKEN_1, resumed: false }))
    dropAndRetry()
    last().end(1006) // refused before the upgrade: the token was not used
    dropAndRetry()
    assert.equal(last().query.get('resume'), TOKEN_1)
  })

  it('sends the JWT as access_token on every attempt; a token function is asked each time', async () => {
    let calls = 0
    const { last, clock } = setup({ token: async () => `jwt-${++calls}` })
    await new Promise((r) => setImmediate(r))
    assert.equal(last().query.get('access_token'), 'jwt-1')
    last().end(1006)
    clock.tick(100)
    await new Promise((r) => setImmediate(r))
    assert.equal(last().query.get('access_token'), 'jwt-2')
  })
})

describe('requests and events', () => {
  function opened() {
    const t = setup({ requestTimeoutMs: 5000 })
    t.last().accept()
    t.last().push(sessionFrame({ sid: SID_A, resumeToken: TOKEN_1, resumed: false }))
    return t
  }
  const sentOf = (socket: FakeSocket, event: string) => socket.sent.find((f) => f.event === event)

  it('request() resolves with the ok reply data; emit() sends without an id', async () => {
    const { client, last } = opened()
    const reply = client.request('room.join', { room: 'lobby' })
    const frame = sentOf(last(), 'room.join')
    assert.deepEqual(frame, { event: 'room.join', data: { room: 'lobby' }, id: frame?.id })
    last().push({ id: frame?.id, ok: true, data: { joined: 'lobby' } })
    assert.deepEqual(await reply, { joined: 'lobby' })
    assert.equal(client.emit('typing', { on: true }), true)
    assert.deepEqual(last().sent.at(-1), { event: 'typing', data: { on: true } })
  })

  it('an ok:false reply rejects with a GatewayError carrying the gateway code, message, event and id', async () => {
    const { client, last, log } = opened()
    const reply = client.request('chat.send', { text: 'x' })
    const id = sentOf(last(), 'chat.send')?.id
    last().push({ id, ok: false, error: { code: 'RATE_LIMITED', message: 'slow down' } })
    await assert.rejects(reply, {
      name: 'GatewayError',
      code: 'RATE_LIMITED',
      message: 'slow down',
      event: 'chat.send',
      requestId: id,
    })
    assert.deepEqual(log.settled.at(-1), {
      id,
      event: 'chat.send',
      rttMs: 0,
      ok: false,
      error: { code: 'RATE_LIMITED', message: 'slow down' },
    })
  })

  it('no reply within timeoutMs rejects TIMEOUT; the late reply is only a warning', async () => {
    const { client, clock, last, log } = opened()
    const reply = client.request('slow', undefined, { timeoutMs: 300 })
    clock.tick(299)
    const id = sentOf(last(), 'slow')?.id
    clock.tick(1)
    await assert.rejects(reply, { code: 'TIMEOUT', message: 'no reply to slow within 300 ms' })
    last().push({ id, ok: true })
    assert.match(log.warnings.at(-1) ?? '', /matches no waiting request/)
  })

  it('a drop fails waiting requests with CLOSED; while reconnecting a request fails at once with NOT_CONNECTED', async () => {
    const { client, last } = opened()
    const reply = client.request('echo')
    last().end(1006)
    await assert.rejects(reply, { code: 'CLOSED' })
    await assert.rejects(client.request('echo'), { code: 'NOT_CONNECTED', requestId: undefined })
    assert.equal(client.emit('echo'), false)
  })

  it('data that is not JSON, or a timeout out of range, is refused with a TypeError', async () => {
    const { client } = opened()
    await assert.rejects(client.request('bad', { n: 1n }), /the data of "bad" is not JSON/)
    await assert.rejects(
      client.request('echo', 1, { timeoutMs: Infinity }),
      /timeoutMs must be a number from 1/,
    )
  })

  it('on(event) gets its events, with data and seq; its removal stops them; a frame it cannot read is a warning', () => {
    const { client, last, log } = opened()
    const got: unknown[] = []
    const off = client.on('news', (data, frame) => got.push([data, frame.seq]))
    last().push(news(1))
    last().push({ event: 'other', data: 0, seq: 2 })
    off()
    last().push(news(3))
    assert.deepEqual(got, [[{ n: 1 }, 1]])
    last().push('not json')
    last().push({ event: 'news', seq: -1 })
    assert.deepEqual(log.warnings, [
      'a frame this client cannot read: the frame is not JSON',
      'a frame this client cannot read: an event frame whose seq is not a whole number >= 1',
    ])
  })

  it('checks its options with messages naming them', () => {
    const { WebSocket } = fakeWebSocket()
    assert.throws(() => connect('http://x/ws', { WebSocket }), /must start with ws:\/\/ or wss:\/\//)
    assert.throws(() => connect('nope', { WebSocket }), /"nope" is not a URL/)
    assert.throws(() => connect('ws://x/ws?resume=a', { WebSocket }), /must not carry resume=/)
    assert.throws(
      () => connect('ws://x/ws', { WebSocket, requestTimeoutMs: 0 }),
      /"requestTimeoutMs" must be a number from 1 to 2147483647 \(got 0\)/,
    )
    assert.throws(
      () => connect('ws://x/ws', { WebSocket, connectTimeoutMs: 2 ** 31 }),
      /"connectTimeoutMs" must be/,
    )
    assert.throws(
      () => connect('ws://x/ws', { WebSocket, reconnect: { initialDelayMs: 500, maxDelayMs: 100 } }),
      /"reconnect.maxDelayMs" \(100\) must be >= "reconnect.initialDelayMs" \(500\)/,
    )
    assert.throws(
      () => connect('ws://x/ws', { WebSocket, reconnect: { delay: 1 } as never }),
      /unknown option "reconnect.delay"/,
    )
    assert.throws(() => connect('ws://x/ws', {}), /no global WebSocket \(Node 20\): pass one/)
  })
})
