/**
 * Exponential backoff with full jitter: the n-th delay is uniform in [0, min(max, initial * 2^n)).
 * `reset()` after a success starts again from `initial`.
 */
export class Backoff {
  private attempt = 0

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The ceiling of the next delay (before jitter). */
  get ceilingMs(): number {
    return Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30))
  }

  next(): number {
    const ceiling = this.ceilingMs
    this.attempt += 1
    return Math.floor(this.random() * ceiling)
  }

  reset(): void {
    this.attempt = 0
  }
}

/** One pending retry at a time, spaced by a Backoff; the timer never keeps the process alive. */
export class RetryTimer {
  private timer: NodeJS.Timeout | undefined
  private readonly backoff: Backoff

  constructor(initialMs: number, maxMs: number) {
    this.backoff = new Backoff(initialMs, maxMs)
  }

  get pending(): boolean {
    return this.timer !== undefined
  }

  schedule(run: () => void): void {
    if (this.timer) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      run()
    }, this.backoff.next())
    this.timer.unref()
  }

  /** A success: the next failure starts from the initial delay again. */
  reset(): void {
    this.backoff.reset()
  }

  cancel(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }
}
