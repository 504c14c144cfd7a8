import type { Timers } from '../timers.js'

interface Detached {
  timer: ReturnType<typeof setTimeout>
  /** The close code seen when the connection went (what `onDisconnect` gets if the session ends detached). */
  code: number
}

/** The window of each detached session: one unref'd timer each, cleared on resume or end. */
export class DetachedSessions {
  readonly #timers: Timers
  readonly #windowMs: number
  readonly #entries = new Map<string, Detached>()

  constructor(timers: Timers, windowMs: number) {
    this.#timers = timers
    this.#windowMs = windowMs
  }

  get size(): number {
    return this.#entries.size
  }

  /** Starts the session's window; `expire` runs when it ends without a resume. */
  start(sid: string, code: number, expire: () => void): void {
    this.stop(sid)
    const timer = this.#timers.timeout(() => {
      this.#entries.delete(sid)
      expire()
    }, this.#windowMs)
    this.#entries.set(sid, { timer, code })
  }

  /** The close code the session detached with, or undefined when it is not detached. */
  codeOf(sid: string): number | undefined {
    return this.#entries.get(sid)?.code
  }

  stop(sid: string): void {
    const entry = this.#entries.get(sid)
    if (!entry) return
    this.#timers.clear(entry.timer)
    this.#entries.delete(sid)
  }
}

/**
 * Sessions handed over to another node, remembered for the window (so that CI messages still arriving
 * here can be forwarded). Entries expire in the order they were made; expired ones are dropped as new
 * ones come and when looked up, so the map holds at most the hand-overs of one window.
 */
export class MovedSessions {
  readonly #windowMs: number
  readonly #entries = new Map<string, { node: string; until: number }>()

  constructor(windowMs: number) {
    this.#windowMs = windowMs
  }

  get size(): number {
    this.#prune(Date.now())
    return this.#entries.size
  }

  set(sid: string, node: string): void {
    const now = Date.now()
    this.#prune(now)
    this.#entries.delete(sid)
    this.#entries.set(sid, { node, until: now + this.#windowMs })
  }

  get(sid: string): string | undefined {
    const entry = this.#entries.get(sid)
    if (!entry) return undefined
    if (entry.until <= Date.now()) {
      this.#entries.delete(sid)
      return undefined
    }
    return entry.node
  }

  delete(sid: string): void {
    this.#entries.delete(sid)
  }

  clear(): void {
    this.#entries.clear()
  }

  #prune(now: number): void {
    for (const [sid, entry] of this.#entries) {
      if (entry.until > now) break
      this.#entries.delete(sid)
    }
  }
}
