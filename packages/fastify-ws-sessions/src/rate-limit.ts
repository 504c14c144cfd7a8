/** A token bucket: `burst` tokens at most, refilled continuously at `ratePerSec`. */
export class TokenBucket {
  readonly #ratePerMs: number
  readonly #burst: number
  #tokens: number
  #last: number

  constructor(ratePerSec: number, burst: number, now: number = performance.now()) {
    this.#ratePerMs = ratePerSec / 1000
    this.#burst = burst
    this.#tokens = burst
    this.#last = now
  }

  /** Takes one token; false when the bucket is empty. */
  take(now: number = performance.now()): boolean {
    const elapsed = now - this.#last
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#ratePerMs)
      this.#last = now
    }
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }
}
