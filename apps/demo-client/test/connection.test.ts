import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { until } from '@session-gateway/test-kit'
import { type ConnectionState, GatewayConnection } from '../src/connection.js'
import type { SocketHandlers } from '../src/socket.js'

/** A socket the test opens, answers and closes by hand. */
class FakeSocket {
  readonly sent: Array<Record<string, unknown>> = []
  closedWith: number | undefined
  constructor(
    readonly url: string,
    readonly handlers: SocketHandlers,
  ) {}
  send(text: string) {
    this.sent.push(JSON.parse(text) as Record<string, unknown>)
  }
  close(code = 1000) {
    this.closedWith = code
    queueMicrotask(() => this.handlers.close(code, '', true))
  }
  reply(frame: unknown) {
    this.handlers.message(JSON.stringify(frame))
  }
}

const connections: GatewayConnection[] = []
afterEach(() => {
  for (const c of connections.splice(0)) c.stop()
})

function setup(options: { requestTimeoutMs?: number } = {}) {
  const sockets: FakeSocket[] = []
  const states: ConnectionState[] = []
  const warnings: string[] = []
  const connection = new GatewayConnection({
    url: 'ws://gw/ws',
    createSocket: (url, handlers) => {
      const socket = new FakeSocket(url, handlers)
      sockets.push(socket)
      return socket
    },
    backoff: { baseMs: 10, maxMs: 40, factor: 2 },
    requestTimeoutMs: options.requestTimeoutMs ?? 1000,
    onState: (s) => states.push(s),
    onProtocolWarning: (m) => warnings.push(m),
  })
  connections.push(connection)
  return { connection, sockets, states, warnings, last: () => sockets.at(-1) as FakeSocket }
}

test('requests carry increasing ids and resolve with their own reply and a round-trip time', async () => {
  const { connection, last } = setup()
  connection.start()
  last().handlers.open()
  const first = connection.request('echo', { text: 'a' })
  const second = connection.request('room.join', { room: 'r' })
  assert.deepEqual(last().sent, [
    { event: 'echo', data: { text: 'a' }, id: 1 },
    { event: 'room.join', data: { room: 'r' }, id: 2 },
  ])
  last().reply({ id: 2, ok: false, error: { code: 'RATE_LIMITED', message: 'slow down' } })
  last().reply({ id: 1, ok: true })
  const [a, b] = await Promise.all([first, second])
  assert.equal(a.ok, true)
  assert.equal(a.event, 'echo')
  assert.ok(a.rttMs >= 0)
  assert.deepEqual(b.ok ? undefined : b.error, { code: 'RATE_LIMITED', message: 'slow down' })
})

test('without a connection a request fails at once with NOT_CONNECTED', async () => {
  const { connection } = setup()
  const ack = await connection.request('echo')
  assert.equal(ack.ok ? '' : ack.error.code, 'NOT_CONNECTED')
})

test('a request without a reply times out; the late reply is a warning', async () => {
  const { connection, last, warnings } = setup({ requestTimeoutMs: 30 })
  connection.start()
  last().handlers.open()
  const ack = await connection.request('echo')
  assert.equal(ack.ok ? '' : ack.error.code, 'TIMEOUT')
  last().reply({ id: ack.id, ok: true })
  assert.match(warnings[0] ?? '', /matches no waiting request/)
})

test('a close fails the waiting requests and reconnects with growing, jittered delays', async () => {
  const { connection, sockets, states, last } = setup()
  connection.start()
  last().handlers.open()
  const pending = connection.request('echo')
  last().handlers.close(1001, 'shutting down', true)
  const ack = await pending
  assert.equal(ack.ok ? '' : ack.error.code, 'CLOSED')

  // Three refused attempts, then the gateway is back.
  for (let i = 2; i <= 4; i++) {
    await until(() => sockets.length === i, { what: `attempt ${i}`, timeoutMs: 2000, intervalMs: 2 })
    last().handlers.close(1006, '', false)
  }
  await until(() => sockets.length === 5, { what: 'attempt 5', timeoutMs: 2000, intervalMs: 2 })
  last().handlers.open()
  assert.equal(connection.state.status, 'open')

  const waits = states.flatMap((s) => (s.status === 'reconnecting' ? [s] : []))
  assert.deepEqual(
    waits.map((s) => s.lastClose.code),
    [1001, 1006, 1006, 1006],
  )
  const ceilings = [10, 20, 40, 40]
  waits.forEach((s, i) => {
    const ceiling = ceilings[i] as number
    assert.ok(s.delayMs >= ceiling / 2 && s.delayMs <= ceiling, `wait ${i}: ${s.delayMs}`)
  })
})

test('stop() closes with 1000 and does not reconnect; start() opens a new socket', async (t) => {
  // Mocked timeouts: a reconnect scheduled anyway would be due within the longest backoff (40 ms);
  // a minute of them passes at once below.
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const { connection, sockets, last } = setup()
  connection.start()
  last().handlers.open()
  connection.stop()
  await new Promise((r) => setImmediate(r)) // the socket's close (a microtask) has been handled
  assert.equal(connection.state.status, 'closed')
  assert.equal(last().closedWith, 1000)
  t.mock.timers.tick(60_000)
  assert.equal(sockets.length, 1)
  connection.start()
  assert.equal(sockets.length, 2)
  assert.equal(connection.state.status, 'connecting')
})

test('events from an old socket are ignored', async () => {
  const { connection, sockets, last } = setup()
  connection.start()
  const old = last()
  old.handlers.close(1006, '', false)
  await until(() => sockets.length === 2, { what: 'retry', timeoutMs: 2000, intervalMs: 2 })
  last().handlers.open()
  old.handlers.close(1006, '', false)
  assert.equal(connection.state.status, 'open')
})

test('start() while waiting to reconnect opens one socket, not two', async (t) => {
  // Mocked timeouts: the pending retry (at most 40 ms away) would have fired within the minute
  // that passes at once below, had start() left it in place.
  t.mock.timers.enable({ apis: ['setTimeout'] })
  const { connection, sockets, last } = setup()
  connection.start()
  last().handlers.close(1006, '', false)
  assert.equal(connection.state.status, 'reconnecting')
  connection.start()
  assert.equal(sockets.length, 2)
  t.mock.timers.tick(60_000)
  assert.equal(sockets.length, 2)
})
