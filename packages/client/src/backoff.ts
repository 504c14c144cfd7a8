/** How the client waits between connection attempts. */
export interface ReconnectOptions {
  /** Ceiling of the first delay, ms (default 500). */
  initialDelayMs: number
  /** Largest ceiling, ms (default 10,000). */
  maxDelayMs: number
  /** Growth of the ceiling per failed attempt (default 2). */
  factor: number
  /** Attempts in a row that may fail before the client gives up and closes (default Infinity). */
  maxAttempts: number
  /** A connection whose session lasted this long starts the schedule over (default 5,000 ms). */
  stableAfterMs: number
}

export const DEFAULT_RECONNECT: Readonly<ReconnectOptions> = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  factor: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
  stableAfterMs: 5000,
})

/**
 * The delay before retry number `failures` (0 for the first): the ceiling grows by `factor` up to
 * `maxDelayMs`, and the delay is a random point in its upper half ("equal jitter"), so that many
 * clients cut off at once do not all come back at once, and none comes back at once.
 */
export function reconnectDelay(failures: number, options: ReconnectOptions, random: () => number): number {
  const ceiling = Math.min(
    options.maxDelayMs,
    options.initialDelayMs * options.factor ** Math.max(0, failures),
  )
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}
