import type { Timers } from './timers.js'

/**
 * Exponential backoff with full jitter: the n-th delay is uniform in [0, min(max, initial * 2^n)).
 * `reset()` after a success starts again from `initial`.
 */
export class Backoff {
  readonly #initialMs: number
  readonly #maxMs: number
  readonly #random: () => number
  #attempt = 0

  constructor(initialMs: number, maxMs: number, random: () => number = Math.random) {
    this.#initialMs = initialMs
    this.#maxMs = maxMs
    this.#random = random
  }

  /** The ceiling of the next delay (before jitter). */
  get ceilingMs(): number {
    return Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(this.#attempt, 30))
  }

  next(): number {
    const ceiling = this.ceilingMs
    this.#attempt += 1
    return Math.floor(this.#random() * ceiling)
  }

  reset(): void {
    this.#attempt = 0
  }
}

/** One pending retry at a time, spaced by a Backoff, on the bridge's timers. */
export class RetryTimer {
  readonly #timers: Timers
  readonly #backoff: Backoff
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(timers: Timers, initialMs: number, maxMs: number) {
    this.#timers = timers
    this.#backoff = new Backoff(initialMs, maxMs)
  }

  get pending(): boolean {
    return this.#timer !== undefined
  }

  schedule(run: () => void): void {
    if (this.#timer) return
    this.#timer = this.#timers.timeout(() => {
      this.#timer = undefined
      run()
    }, this.#backoff.next())
  }

  /** A success: the next failure starts from the initial delay again. */
  reset(): void {
    this.#backoff.reset()
  }

  cancel(): void {
    this.#timers.clear(this.#timer)
    this.#timer = undefined
  }
}
