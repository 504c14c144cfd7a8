import type { FastifyBaseLogger } from 'fastify'

/** How long one warning of a kind stands for the others of its kind. */
export const DEFAULT_LOG_WINDOW_MS = 10_000

interface Window {
  suppressed: number
  timer: NodeJS.Timeout
}

/**
 * Warnings that can come once per client event (a broker outage at 1,000 events/s would write
 * 1,000 lines/s): the first of each kind in a window is logged as it is, the others are counted,
 * and one line at the end of the window says how many were left out.
 */
export class LogThrottle {
  readonly #windows = new Map<string, Window>()
  readonly #summaryLog: FastifyBaseLogger
  readonly #windowMs: number

  constructor(summaryLog: FastifyBaseLogger, windowMs = DEFAULT_LOG_WINDOW_MS) {
    this.#summaryLog = summaryLog
    this.#windowMs = windowMs
  }

  /** Logs `msg` at warn on `log` unless a warning with this `msg` was logged in the current window. */
  warn(log: FastifyBaseLogger, details: object, msg: string): void {
    const open = this.#windows.get(msg)
    if (open) {
      open.suppressed++
      return
    }
    log.warn(details, msg)
    const timer = setTimeout(() => this.#end(msg), this.#windowMs)
    timer.unref()
    this.#windows.set(msg, { suppressed: 0, timer })
  }

  #end(msg: string): void {
    const window = this.#windows.get(msg)
    if (!window) return
    this.#windows.delete(msg)
    clearTimeout(window.timer)
    if (window.suppressed > 0) {
      this.#summaryLog.warn(
        { suppressed: window.suppressed, windowMs: this.#windowMs },
        `${msg} (${window.suppressed} more in the last ${this.#windowMs / 1000} s, not logged one by one)`,
      )
    }
  }

  /**
   * Ends every window now, writing its summary. Later warnings open new windows (their timers are
   * unref'd, so they never hold the process).
   */
  flush(): void {
    for (const msg of [...this.#windows.keys()]) this.#end(msg)
  }
}
