import type { Clock } from './clock.js'
import { GatewayError, LocalErrorCode } from './errors.js'

/** How one request ended, with its round trip (for logs and metrics; see `observe('settled')`). */
export type RequestOutcome = { id: number | undefined; event: string; rttMs: number } & (
  | { ok: true; data: unknown }
  | { ok: false; error: { code: string; message: string } }
)

interface Pending {
  event: string
  sentAt: number
  timer: unknown
  resolve: (data: unknown) => void
  reject: (err: GatewayError) => void
}

/** Requests waiting for their reply, by id: each settles once, by its reply, its timeout or a close. */
export class PendingRequests {
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  readonly #clock: Clock
  readonly #onSettled: (outcome: RequestOutcome) => void

  constructor(clock: Clock, onSettled: (outcome: RequestOutcome) => void) {
    this.#clock = clock
    this.#onSettled = onSettled
  }

  /** A fresh id (ids grow across connections, so a late reply can never match a newer request). */
  takeId(): number {
    return this.#nextId++
  }

  /** The id `takeId()` gives next. */
  peekId(): number {
    return this.#nextId
  }

  wait(id: number, event: string, timeoutMs: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#fail(id, LocalErrorCode.TIMEOUT, `no reply to ${event} within ${timeoutMs} ms`)
      }, timeoutMs)
      this.#pending.set(id, { event, sentAt: this.#clock.now(), timer, resolve, reject })
    })
  }

  /** A reply came: true when it matched a waiting request. */
  settle(
    id: number | string,
    reply: { ok: true; data: unknown } | { ok: false; code: string; message: string },
  ): boolean {
    if (typeof id !== 'number') return false
    const waiting = this.#take(id)
    if (!waiting) return false
    const rttMs = this.#clock.now() - waiting.sentAt
    if (reply.ok) {
      this.#onSettled({ id, event: waiting.event, rttMs, ok: true, data: reply.data })
      waiting.resolve(reply.data)
    } else {
      const error = { code: reply.code, message: reply.message }
      this.#onSettled({ id, event: waiting.event, rttMs, ok: false, error })
      waiting.reject(new GatewayError(reply.code, reply.message, waiting.event, id))
    }
    return true
  }

  /** Fails every waiting request (the connection is gone). */
  failAll(code: LocalErrorCode, message: string): void {
    for (const id of [...this.#pending.keys()]) this.#fail(id, code, message)
  }

  /** A request that was never sent: rejected at once, with its outcome reported. */
  refuse(event: string, code: LocalErrorCode, message: string): Promise<never> {
    this.#onSettled({ id: undefined, event, rttMs: 0, ok: false, error: { code, message } })
    return Promise.reject(new GatewayError(code, message, event, undefined))
  }

  #fail(id: number, code: LocalErrorCode, message: string): void {
    const waiting = this.#take(id)
    if (!waiting) return
    this.#onSettled({
      id,
      event: waiting.event,
      rttMs: this.#clock.now() - waiting.sentAt,
      ok: false,
      error: { code, message },
    })
    waiting.reject(new GatewayError(code, message, waiting.event, id))
  }

  #take(id: number): Pending | undefined {
    const waiting = this.#pending.get(id)
    if (!waiting) return undefined
    this.#pending.delete(id)
    this.#clock.clearTimeout(waiting.timer)
    return waiting
  }
}
