import type { Timers } from './timers.js'

/** What the heartbeat needs of a session: its tick, and the slice it was put in. */
export interface HeartbeatMember {
  /** Pings, or terminates when the last ping got no pong (see `WsSession.heartbeat`). */
  heartbeat(): void
  /** The slice of the interval the session is pinged in; -1 while it is in none. */
  heartbeatSlice: number
}

/** Aimed-for length of one slice: a tick pings about `sessions x SLICE_MS / intervalMs` sessions. */
export const SLICE_MS = 100
const MAX_SLICES = 1000

/** How many slices an interval is cut into (one when it is shorter than two slices). */
export function sliceCount(intervalMs: number): number {
  return Math.max(1, Math.min(MAX_SLICES, Math.floor(intervalMs / SLICE_MS)))
}

/**
 * Pings every session once per interval, spread over the interval: the interval is cut into
 * slices, a session joins one slice (round-robin, so the slices stay even) and stays in it, and
 * each tick visits the next slice. So one event-loop turn pings only a slice's sessions, and a
 * session is visited every `intervalMs`: tick k is due `ceil(k x intervalMs / slices)` ms after the
 * start, so a slice's visits (ticks k and k + slices) are exactly one interval apart, and a late
 * tick does not push the later ones back. A session that did not answer the ping of its last
 * visit is terminated at its next one, as with one sweep for all. Runs only while there are sessions.
 */
export class Heartbeat {
  readonly #timers: Timers
  readonly #intervalMs: number
  readonly #now: () => number
  readonly #slices: Array<Set<HeartbeatMember>>
  #size = 0
  /** The slice the next session joins. */
  #nextJoin = 0
  /** Ticks since the start; tick k visits slice k mod slices. */
  #ticks = 0
  #startedAt = 0
  #handle: ReturnType<typeof setTimeout> | undefined

  constructor(timers: Timers, intervalMs: number, now: () => number = () => performance.now()) {
    this.#timers = timers
    this.#intervalMs = intervalMs
    this.#now = now
    const count = intervalMs === 0 ? 0 : sliceCount(intervalMs)
    this.#slices = Array.from({ length: count }, () => new Set<HeartbeatMember>())
  }

  get size(): number {
    return this.#size
  }

  add(member: HeartbeatMember): void {
    if (this.#intervalMs === 0 || member.heartbeatSlice !== -1) return
    const slice = this.#nextJoin
    this.#nextJoin = (slice + 1) % this.#slices.length
    ;(this.#slices[slice] as Set<HeartbeatMember>).add(member)
    member.heartbeatSlice = slice
    this.#size++
    if (this.#handle === undefined) {
      this.#startedAt = this.#now()
      this.#ticks = 0
      this.#schedule()
    }
  }

  remove(member: HeartbeatMember): void {
    const slice = member.heartbeatSlice
    if (slice === -1) return
    member.heartbeatSlice = -1
    if ((this.#slices[slice] as Set<HeartbeatMember>).delete(member)) this.#size--
    if (this.#size === 0) this.stop()
  }

  stop(): void {
    this.#timers.clear(this.#handle)
    this.#handle = undefined
  }

  #schedule(): void {
    const due = this.#startedAt + Math.ceil(((this.#ticks + 1) * this.#intervalMs) / this.#slices.length)
    this.#handle = this.#timers.timeout(() => this.#tick(), Math.max(0, due - this.#now()))
  }

  #tick(): void {
    const slice = this.#slices[this.#ticks % this.#slices.length] as Set<HeartbeatMember>
    this.#ticks++
    this.#schedule()
    for (const member of slice) member.heartbeat()
  }
}
