import type { WsSession } from './session.js'
import type { Timers } from './timers.js'

/**
 * One interval for all sessions: each tick pings every open session, and
 * terminates the ones that did not answer the previous ping. Runs only while
 * there are sessions.
 */
export class Heartbeat {
  readonly #timers: Timers
  readonly #intervalMs: number
  readonly #sessions: () => Iterable<WsSession>
  #handle: ReturnType<typeof setInterval> | undefined

  constructor(timers: Timers, intervalMs: number, sessions: () => Iterable<WsSession>) {
    this.#timers = timers
    this.#intervalMs = intervalMs
    this.#sessions = sessions
  }

  /** Starts or stops the interval to match the number of sessions. */
  update(sessionCount: number): void {
    if (this.#intervalMs === 0) return
    if (sessionCount > 0 && this.#handle === undefined) {
      this.#handle = this.#timers.interval(() => this.#tick(), this.#intervalMs)
    } else if (sessionCount === 0) {
      this.stop()
    }
  }

  stop(): void {
    this.#timers.clear(this.#handle)
    this.#handle = undefined
  }

  #tick(): void {
    for (const session of this.#sessions()) session.heartbeat()
  }
}
