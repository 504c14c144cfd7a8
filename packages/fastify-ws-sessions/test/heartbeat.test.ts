import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Heartbeat, type HeartbeatMember, sliceCount } from '../src/heartbeat.js'
import { Timers } from '../src/timers.js'

/**
 * A controlled clock for the heartbeat: its timeouts fire only when the test moves the clock, each
 * callback standing for one event-loop turn.
 */
class ManualClock {
  now = 0
  #pending: Array<{ due: number; fn: () => void; handle: ReturnType<typeof setTimeout> }> = []
  /** Pings made in each turn (callback) so far. */
  readonly turns: number[] = []

  readonly timers = new (class extends Timers {
    constructor(readonly clock: ManualClock) {
      super()
    }
    override timeout(fn: () => void, ms: number): ReturnType<typeof setTimeout> {
      const handle = { id: Symbol() } as unknown as ReturnType<typeof setTimeout>
      this.clock.#pending.push({ due: this.clock.now + Math.max(1, ms), fn, handle })
      return handle
    }
    override clear(handle: ReturnType<typeof setTimeout> | undefined): void {
      this.clock.#pending = this.clock.#pending.filter((p) => p.handle !== handle)
    }
  })(this)

  get pendingTimers(): number {
    return this.#pending.length
  }

  /** Moves the clock to `t`, firing every timeout due by then in order. */
  advanceTo(t: number, countPings: () => number): void {
    for (;;) {
      this.#pending.sort((a, b) => a.due - b.due)
      const next = this.#pending[0]
      if (next === undefined || next.due > t) break
      this.#pending.shift()
      this.now = Math.max(this.now, next.due)
      const before = countPings()
      next.fn()
      this.turns.push(countPings() - before)
    }
    this.now = t
  }
}

/** A session as the heartbeat sees it, with `WsSession.heartbeat`'s rule: no pong since the last ping ends it. */
class FakeSession implements HeartbeatMember {
  heartbeatSlice = -1
  pingedAt: number[] = []
  pongPending = false
  terminatedAt: number | undefined
  constructor(
    readonly clock: ManualClock,
    readonly answers: boolean,
    readonly onTerminate: (s: FakeSession) => void,
  ) {}
  heartbeat(): void {
    if (this.pongPending) {
      this.terminatedAt = this.clock.now
      this.onTerminate(this)
      return
    }
    this.pingedAt.push(this.clock.now)
    this.pongPending = !this.answers // an answering client's pong arrives before the next visit
  }
}

function setUp(count: number, intervalMs: number, answers: (i: number) => boolean = () => true) {
  const clock = new ManualClock()
  const heartbeat = new Heartbeat(clock.timers, intervalMs, () => clock.now)
  const sessions = Array.from(
    { length: count },
    (_, i) => new FakeSession(clock, answers(i), (s) => heartbeat.remove(s)),
  )
  for (const s of sessions) heartbeat.add(s)
  const pings = () => sessions.reduce((n, s) => n + s.pingedAt.length, 0)
  return { clock, heartbeat, sessions, pings }
}

describe('heartbeat sweep', () => {
  it('spreads the pings of one interval over its slices: no turn pings more than one slice of the sessions', () => {
    const intervalMs = 30_000
    const { clock, sessions, pings } = setUp(19_000, intervalMs)
    const slices = sliceCount(intervalMs)
    assert.equal(slices, 300)
    clock.advanceTo(intervalMs, pings)
    assert.equal(clock.turns.length, slices, 'one turn per slice')
    assert.equal(Math.max(...clock.turns), Math.ceil(19_000 / slices))
    assert.equal(Math.min(...clock.turns), Math.floor(19_000 / slices))
    // Every session pinged exactly once in the interval.
    assert.ok(sessions.every((s) => s.pingedAt.length === 1))
  })

  it('pings each session every interval exactly, even after a late turn', () => {
    const intervalMs = 1_234 // not a whole number of slices
    const { clock, sessions, pings } = setUp(50, intervalMs)
    clock.advanceTo(intervalMs * 2 + 700, pings)
    // A turn that comes 300 ms late (a blocked loop) ...
    clock.now += 300
    clock.advanceTo(intervalMs * 6, pings)
    for (const s of sessions) {
      assert.equal(s.pingedAt.length, 6)
      const gaps = s.pingedAt.slice(1).map((t, i) => t - (s.pingedAt[i] as number))
      // ... delays only the visits that were due meanwhile; later ones are back on time.
      const late = gaps.filter((g) => g !== intervalMs)
      assert.ok(late.length <= 2, `gaps ${gaps.join(', ')}`)
      assert.equal(s.pingedAt[5] as number, (s.pingedAt[0] as number) + 5 * intervalMs)
    }
  })

  it('terminates a session one interval after the ping it did not answer, and keeps the others', () => {
    const intervalMs = 30_000
    const { clock, heartbeat, sessions, pings } = setUp(1_000, intervalMs, (i) => i % 10 !== 0)
    clock.advanceTo(intervalMs * 3, pings)
    for (const [i, s] of sessions.entries()) {
      if (i % 10 === 0) {
        assert.equal(s.pingedAt.length, 1)
        assert.equal(s.terminatedAt, (s.pingedAt[0] as number) + intervalMs)
      } else {
        assert.equal(s.terminatedAt, undefined)
        assert.equal(s.pingedAt.length, 3)
      }
    }
    assert.equal(heartbeat.size, 900)
  })

  it('holds a timer only while it has sessions; one that joins later is pinged within one interval', () => {
    const { clock, heartbeat, sessions, pings } = setUp(3, 10_000)
    assert.equal(clock.pendingTimers, 1)
    for (const s of sessions) heartbeat.remove(s)
    assert.equal(clock.pendingTimers, 0)
    const late = new FakeSession(clock, true, () => {})
    clock.advanceTo(55_000, pings)
    heartbeat.add(late)
    assert.equal(clock.pendingTimers, 1)
    clock.advanceTo(65_000, () => late.pingedAt.length)
    assert.equal(late.pingedAt.length, 1)
    assert.ok((late.pingedAt[0] as number) <= 65_000)
  })

  it('an interval shorter than two slices is one sweep, as before', () => {
    const { clock, pings } = setUp(7, 50)
    clock.advanceTo(150, pings)
    assert.deepEqual(clock.turns, [7, 7, 7])
  })
})
