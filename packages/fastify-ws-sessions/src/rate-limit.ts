/**
 * Refills are sums of float products (elapsed ms x rate), so a token that is exactly due can
 * come out as 0.9999999999: comparisons allow this much rounding error.
 */
const ROUNDING = 1e-9

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

  #refill(now: number): void {
    const elapsed = now - this.#last
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#ratePerMs)
      this.#last = now
    }
  }

  /** Takes one token; false when the bucket is empty. */
  take(now: number = performance.now()): boolean {
    this.#refill(now)
    if (this.#tokens < 1 - ROUNDING) return false
    this.#tokens = Math.max(0, this.#tokens - 1)
    return true
  }

  /** True when the bucket has refilled completely (forgetting it changes nothing). */
  isFull(now: number = performance.now()): boolean {
    this.#refill(now)
    return this.#tokens >= this.#burst - ROUNDING
  }

  /** Milliseconds until the next token (0 when one is there). */
  msUntilToken(now: number = performance.now()): number {
    this.#refill(now)
    return this.#tokens >= 1 - ROUNDING ? 0 : (1 - this.#tokens) / this.#ratePerMs
  }
}
