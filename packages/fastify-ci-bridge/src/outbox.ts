import { BridgeError } from './errors.js'
import type { Deadline, DeadlineQueue, Timers } from './timers.js'

/** One message, kept until the broker settles it `accepted` (or it fails, times out, or the bridge closes). */
export interface PendingSend {
  readonly seq: number
  readonly address: string
  /** The encoded AMQP message (`encodeJsonPayload`): the same bytes, and message_id, on every resend. */
  readonly payload: Buffer
  /** `waiting`: in its address's queue (no link, no credit yet); `inflight`: on the wire; `done`: settled. */
  readonly state: 'waiting' | 'inflight' | 'done'
}

/** The outbox's own record of a send: the public view plus its promise and deadline. */
interface Entry extends PendingSend {
  state: 'waiting' | 'inflight' | 'done'
  /** How many times it went on the wire. */
  transfers: number
  resolve: () => void
  reject: (error: Error) => void
  deadline: Deadline | undefined
}

/** The sends to one address: those waiting in order, and how many are not done. */
interface AddressQueue {
  waiting: Set<Entry>
  pending: number
}

export interface OutboxCounters {
  sent: number
  accepted: number
  rejected: number
  released: number
  timedOut: number
  resent: number
}

const NO_WAITING: ReadonlySet<PendingSend> = new Set()

/**
 * The one owner of the state of every send not yet accepted: its promise, its send timeout, whether
 * it waits (per address, in order) or is on the wire, the bound (`limit`) and the counters. A sender
 * takes waiting entries off its address's queue (`markInflight`), puts what a lost link had on the
 * wire back at its head (`requeue`), and reports outcomes (`settle`, which ends an entry exactly once).
 * All sends share one timeout, so their deadlines are one FIFO on one timer.
 */
export class Outbox {
  readonly counters: OutboxCounters = {
    sent: 0,
    accepted: 0,
    rejected: 0,
    released: 0,
    timedOut: 0,
    resent: 0,
  }
  readonly #limit: number
  readonly #timeoutMs: number
  readonly #deadlines: DeadlineQueue<Entry>
  readonly #queues = new Map<string, AddressQueue>()
  readonly #live = new Set<Entry>()
  #waiting = 0
  #inflight = 0
  #seq = 0
  #emptyWaiters: Array<() => void> = []

  constructor(limit: number, timeoutMs: number, timers: Timers) {
    this.#limit = limit
    this.#timeoutMs = timeoutMs
    this.#deadlines = timers.deadlines(timeoutMs, (entry) =>
      this.settle(
        entry,
        new BridgeError('TIMEOUT', `no outcome from the broker within ${this.#timeoutMs} ms`, {
          address: entry.address,
        }),
      ),
    )
  }

  get waitingCount(): number {
    return this.#waiting
  }

  get inflightCount(): number {
    return this.#inflight
  }

  get size(): number {
    return this.#live.size
  }

  /** Sends to `address` not yet done (waiting or on the wire). */
  pendingFor(address: string): number {
    return this.#queues.get(address)?.pending ?? 0
  }

  /** The sends waiting for `address`, oldest first (live: `markInflight` takes them off). */
  waitingFor(address: string): Iterable<PendingSend> {
    return this.#queues.get(address)?.waiting ?? NO_WAITING
  }

  /**
   * A new pending send, waiting in its address's queue, or a BridgeError UNAVAILABLE when the
   * outbox is full (unless `bypassLimit`: the caller bounds those sends itself).
   */
  create(address: string, payload: Buffer, bypassLimit = false): { entry: PendingSend; done: Promise<void> } {
    if (!bypassLimit && this.#live.size >= this.#limit) {
      throw new BridgeError(
        'UNAVAILABLE',
        `outbox full: ${this.#limit} messages are waiting for the broker`,
        {
          address,
        },
      )
    }
    let resolve: () => void = () => {}
    let reject: (error: Error) => void = () => {}
    const done = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    const entry: Entry = {
      seq: this.#seq++,
      address,
      payload,
      state: 'waiting',
      transfers: 0,
      resolve,
      reject,
      deadline: undefined,
    }
    entry.deadline = this.#deadlines.add(entry)
    this.#live.add(entry)
    const queue = this.#queue(address)
    queue.waiting.add(entry)
    queue.pending += 1
    this.#waiting += 1
    this.counters.sent += 1
    return { entry, done }
  }

  /** The entry went on the wire. */
  markInflight(pending: PendingSend): void {
    const entry = pending as Entry
    if (entry.state !== 'waiting') return
    this.#queues.get(entry.address)?.waiting.delete(entry)
    entry.state = 'inflight'
    entry.transfers += 1
    if (entry.transfers > 1) this.counters.resent += 1
    this.#waiting -= 1
    this.#inflight += 1
  }

  /** The link they were on is gone without an outcome: they wait again, at the head of their queue, in order. */
  requeue(address: string, pending: Iterable<PendingSend>): void {
    const back = [...pending].filter((entry) => entry.state === 'inflight') as Entry[]
    if (back.length === 0) return
    back.sort((a, b) => a.seq - b.seq)
    for (const entry of back) {
      entry.state = 'waiting'
      this.#inflight -= 1
      this.#waiting += 1
    }
    const queue = this.#queue(address)
    queue.waiting = new Set([...back, ...queue.waiting])
  }

  /** Ends an entry: resolves its promise (no error = accepted) or rejects it. Later calls do nothing. */
  settle(pending: PendingSend, error?: BridgeError): void {
    const entry = pending as Entry
    if (entry.state === 'done' || !this.#live.delete(entry)) return
    entry.deadline?.cancel()
    entry.deadline = undefined
    if (entry.state === 'waiting') this.#waiting -= 1
    else this.#inflight -= 1
    entry.state = 'done'
    const queue = this.#queues.get(entry.address)
    if (queue) {
      queue.waiting.delete(entry)
      queue.pending -= 1
      if (queue.pending === 0) this.#queues.delete(entry.address)
    }
    if (!error) {
      this.counters.accepted += 1
      entry.resolve()
    } else {
      if (error.code === 'REJECTED') this.counters.rejected += 1
      else if (error.code === 'RELEASED') this.counters.released += 1
      else if (error.code === 'TIMEOUT') this.counters.timedOut += 1
      entry.reject(error)
    }
    if (this.#live.size === 0) {
      const waiters = this.#emptyWaiters
      this.#emptyWaiters = []
      for (const wake of waiters) wake()
    }
  }

  /** Rejects every waiting send to `address` (its link was refused). */
  rejectWaiting(address: string, error: () => BridgeError): void {
    for (const entry of [...this.waitingFor(address)]) this.settle(entry, error())
  }

  /** Rejects every entry still pending (bridge closing). */
  rejectAll(error: () => BridgeError): void {
    for (const entry of [...this.#live]) this.settle(entry, error())
    this.#deadlines.clear()
  }

  whenEmpty(): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.#emptyWaiters.push(resolve))
  }

  #queue(address: string): AddressQueue {
    let queue = this.#queues.get(address)
    if (!queue) {
      queue = { waiting: new Set(), pending: 0 }
      this.#queues.set(address, queue)
    }
    return queue
  }
}
