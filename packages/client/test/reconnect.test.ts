import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { type ClientObservations, type ClientOptions, type ClientState, connect } from '../src/index.js'
import { FakeClock } from './helpers/fake-clock.js'
import { type FakeSocket, fakeWebSocket } from './helpers/fake-socket.js'

const SID_A = 'A'.repeat(22)
const flush = () => new Promise((resolve) => setImmediate(resolve))

function setup(reconnect: ClientOptions['reconnect'] = {}, random = () => 0.5) {
  const clock = new FakeClock()
  const { WebSocket, sockets } = fakeWebSocket()
  const client = connect('ws://gw.test/ws', {
    WebSocket,
    clock,
    random,
    reconnect: reconnect === false ? false : { initialDelayMs: 100, maxDelayMs: 800, ...reconnect },
  })
  const states: ClientState[] = []
  const closed: Array<ClientObservations['closed']> = []
  client.observe('state', (s) => states.push(s))
  client.observe('closed', (c) => closed.push(c))
  const last = () => sockets.at(-1) as FakeSocket
  const waits = () => states.flatMap((s) => (s.status === 'reconnecting' ? [s.delayMs] : []))
  return { client, clock, sockets, states, closed, last, waits }
}

/** Opens the last socket and gives it a session (resume off: the GET_SID reply). */
function establish(socket: FakeSocket, sid = SID_A) {
  socket.accept()
  socket.answerSid(sid)
}

describe('reconnect schedule (fake server, injected clock and random)', () => {
  it('waits a jittered, doubling, bounded delay between failed attempts, and opens exactly when it is due', () => {
    const { clock, sockets, last, waits } = setup({}, () => 0.5)
    assert.equal(sockets.length, 1)
    for (let i = 1; i <= 5; i++) {
      last().end(1006)
      const delay = waits().at(-1) as number
      clock.tick(delay - 1)
      assert.equal(sockets.length, i, `attempt ${i + 1} not before its delay`)
      clock.tick(1)
      assert.equal(sockets.length, i + 1, `attempt ${i + 1} when its delay is over`)
    }
    // Ceilings 100, 200, 400, 800, 800 (bounded); each delay the middle of its upper half.
    assert.deepEqual(waits(), [75, 150, 300, 600, 600])
  })

  it('keeps every delay within the upper half of its ceiling, whatever the random source gives', () => {
    for (const [r, expected] of [
      [0, [50, 100, 200, 400, 400]],
      [0.999, [100, 200, 400, 800, 800]],
    ] as const) {
      const { clock, last, waits } = setup({}, () => r)
      for (let i = 0; i < 5; i++) {
        last().end(1006)
        clock.tick(waits().at(-1) as number)
      }
      assert.deepEqual(waits(), expected, `random ${r}`)
    }
  })

  it('starts the schedule over after a session that lasted stableAfterMs, not after a short one', () => {
    const { clock, last, waits } = setup({ stableAfterMs: 1000 })
    last().end(1006)
    clock.tick(75)
    last().end(1006)
    clock.tick(150)
    establish(last())
    clock.tick(999)
    last().end(1006) // lasted less than stableAfterMs: the schedule goes on
    clock.tick(300)
    establish(last())
    clock.tick(1000)
    last().end(1006) // lasted stableAfterMs: back to the first delay
    assert.deepEqual(waits(), [75, 150, 300, 75])
  })

  it('gives up after maxAttempts failures in a row: closed by "gave-up", ready() rejects', async () => {
    const { client, clock, sockets, last, closed, waits } = setup({ maxAttempts: 2 })
    last().end(1006)
    clock.tick(75)
    last().end(1006)
    clock.tick(150)
    last().end(1006, 'still down')
    assert.equal(sockets.length, 3)
    assert.deepEqual(waits(), [75, 150])
    assert.deepEqual(client.state, {
      status: 'closed',
      by: 'gave-up',
      lastClose: { code: 1006, reason: 'still down' },
    })
    assert.deepEqual(closed, [{ by: 'gave-up', code: 1006, reason: 'still down' }])
    await assert.rejects(client.ready(), /the client is closed \(code 1006 still down\)/)
    clock.tick(60_000)
    assert.equal(sockets.length, 3)
  })

  it('reconnect: false closes on the first drop', () => {
    const { client, clock, sockets, last } = setup(false)
    establish(last())
    last().end(1006)
    clock.tick(60_000)
    assert.equal(sockets.length, 1)
    assert.equal(client.state.status === 'closed' && client.state.by, 'gave-up')
  })

  it('an attempt that gets no session within connectTimeoutMs counts as failed and is retried', () => {
    const clock = new FakeClock()
    const { WebSocket, sockets } = fakeWebSocket()
    const client = connect('ws://gw.test/ws', {
      WebSocket,
      clock,
      random: () => 0.5,
      connectTimeoutMs: 2000,
      reconnect: { initialDelayMs: 100 },
    })
    sockets[0]?.accept() // open, but neither a session frame nor a GET_SID reply comes
    clock.tick(1999)
    assert.equal(client.state.status, 'connecting')
    clock.tick(1)
    const state = client.state as ClientState
    assert.equal(sockets[0]?.closedWith !== undefined, true, 'the stuck socket is closed')
    assert.deepEqual(state.status === 'reconnecting' && state.lastClose, {
      code: 1006,
      reason: 'no session within 2000 ms',
    })
    clock.tick(75)
    assert.equal(sockets.length, 2)
  })

  it('reconnectNow() skips the wait; ignores events of the socket it left', async () => {
    const { client, sockets, last } = setup()
    const old = last()
    old.end(1006)
    client.reconnectNow()
    assert.equal(sockets.length, 2)
    establish(last())
    old.end(1006)
    assert.equal(client.state.status, 'open')
    await flush()
  })
})

describe('final closes (PROTOCOL.md 1 and 4.1)', () => {
  for (const code of [1000, 1008, 4000, 4403, 4999]) {
    it(`a close with ${code} from the gateway ends the client: no reconnect`, async () => {
      const { client, clock, sockets, last, closed } = setup()
      establish(last())
      last().end(code, 'bye')
      clock.tick(600_000)
      assert.equal(sockets.length, 1)
      assert.deepEqual(closed, [{ by: 'server', code, reason: 'bye' }])
      await assert.rejects(client.ready(), /closed/)
    })
  }

  for (const code of [1001, 1005, 1006, 1011, 1012, 1013, 3000]) {
    it(`a close with ${code} reconnects`, () => {
      const { clock, sockets, last } = setup()
      establish(last())
      last().end(code)
      clock.tick(100)
      assert.equal(sockets.length, 2)
    })
  }

  it('close() sends 1000, fails waiting requests with CLOSED, and never reconnects', async () => {
    const { client, clock, sockets, last, closed } = setup()
    establish(last())
    const pending = client.request('echo', { text: 'x' })
    await client.close()
    await assert.rejects(pending, { name: 'GatewayError', code: 'CLOSED' })
    assert.deepEqual(last().closedWith, { code: 1000, reason: '' })
    clock.tick(600_000)
    assert.equal(sockets.length, 1)
    assert.deepEqual(closed, [{ by: 'client', code: 1000, reason: '' }])
    assert.throws(() => client.close(1001), /1000 or 3000-4999/)
  })

  it('drop() closes with a client 4000 (the gateway detaches) and reconnects by itself', () => {
    const { client, clock, sockets, last, closed } = setup()
    establish(last())
    assert.equal(client.drop(), true)
    assert.deepEqual(last().closedWith, { code: 4000, reason: 'connection dropped by the client' })
    return flush().then(() => {
      // The echo of the client's own 4000 is not a final close.
      assert.equal(client.state.status, 'reconnecting')
      clock.tick(100)
      assert.equal(sockets.length, 2)
      assert.deepEqual(closed, [])
      assert.throws(() => client.drop(1000), /3000-4999/)
    })
  })
})
