export interface BackoffOptions {
  /** Delay ceiling of the first retry, in ms. */
  baseMs: number
  /** Largest ceiling, in ms. */
  maxMs: number
  /** Growth of the ceiling per attempt. */
  factor: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 10_000, factor: 2 }

/**
 * Delay before retry number `attempt` (0 for the first retry): exponential growth up to
 * `maxMs`, with "equal jitter" (a random point in the upper half of the ceiling), so that
 * many pages cut off at once do not come back at once.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * options.factor ** Math.max(0, attempt))
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
