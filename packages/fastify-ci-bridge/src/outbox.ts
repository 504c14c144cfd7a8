import type { Message } from 'rhea'
import { BridgeError } from './errors.js'

/** Something that holds pending sends and can let go of one (a timed-out one). */
export interface SendHolder {
  forget(entry: PendingSend): void
}

/** One message, kept until the broker settles it `accepted` (or it fails, times out, or the bridge closes). */
export interface PendingSend {
  readonly seq: number
  readonly address: string
  readonly message: Message
  state: 'waiting' | 'inflight' | 'done'
  /** How many times it went on the wire. */
  transfers: number
  holder: SendHolder | undefined
}

interface Settler {
  resolve: () => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

export interface OutboxCounters {
  sent: number
  accepted: number
  rejected: number
  released: number
  timedOut: number
  resent: number
}

/**
 * Every message not yet accepted, across all senders: the bound (`limit`), the send timeout, the
 * promise of each send, and the counters. Senders move entries between `waiting` (no link or no
 * credit) and `inflight` (transferred, outcome pending); `settle()` ends an entry exactly once.
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
  private waiting = 0
  private inflight = 0
  private seq = 0
  private readonly live = new Map<PendingSend, Settler>()
  private emptyWaiters: Array<() => void> = []

  constructor(
    private readonly limit: number,
    private readonly timeoutMs: number,
  ) {}

  get waitingCount(): number {
    return this.waiting
  }

  get inflightCount(): number {
    return this.inflight
  }

  get size(): number {
    return this.live.size
  }

  /**
   * A new pending send (state `waiting`), or a BridgeError UNAVAILABLE when the outbox is full
   * (unless `bypassLimit`: the caller bounds those sends itself).
   */
  create(
    address: string,
    message: Message,
    bypassLimit = false,
  ): { entry: PendingSend; done: Promise<void> } {
    if (!bypassLimit && this.live.size >= this.limit) {
      throw new BridgeError('UNAVAILABLE', `outbox full: ${this.limit} messages are waiting for the broker`, {
        address,
      })
    }
    const entry: PendingSend = {
      seq: this.seq++,
      address,
      message,
      state: 'waiting',
      transfers: 0,
      holder: undefined,
    }
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(
          entry,
          new BridgeError('TIMEOUT', `no outcome from the broker within ${this.timeoutMs} ms`, { address }),
        )
      }, this.timeoutMs)
      timer.unref()
      this.live.set(entry, { resolve, reject, timer })
    })
    this.waiting += 1
    this.counters.sent += 1
    return { entry, done }
  }

  /** The entry went on the wire. */
  markInflight(entry: PendingSend): void {
    if (entry.state !== 'waiting') return
    entry.state = 'inflight'
    entry.transfers += 1
    if (entry.transfers > 1) this.counters.resent += 1
    this.waiting -= 1
    this.inflight += 1
  }

  /** The link it was on is gone without an outcome: it waits to be sent again. */
  markWaiting(entry: PendingSend): void {
    if (entry.state !== 'inflight') return
    entry.state = 'waiting'
    this.inflight -= 1
    this.waiting += 1
  }

  /** Ends an entry: resolves its promise (no error = accepted) or rejects it. Later calls do nothing. */
  settle(entry: PendingSend, error?: BridgeError): void {
    const settler = this.live.get(entry)
    if (!settler || entry.state === 'done') return
    this.live.delete(entry)
    clearTimeout(settler.timer)
    if (entry.state === 'waiting') this.waiting -= 1
    else this.inflight -= 1
    entry.state = 'done'
    entry.holder?.forget(entry)
    if (!error) {
      this.counters.accepted += 1
      settler.resolve()
    } else {
      if (error.code === 'REJECTED') this.counters.rejected += 1
      else if (error.code === 'RELEASED') this.counters.released += 1
      else if (error.code === 'TIMEOUT') this.counters.timedOut += 1
      settler.reject(error)
    }
    if (this.live.size === 0) {
      const waiters = this.emptyWaiters
      this.emptyWaiters = []
      for (const wake of waiters) wake()
    }
  }

  /** Rejects every entry still pending (bridge closing). */
  rejectAll(error: () => BridgeError): void {
    for (const entry of [...this.live.keys()]) this.settle(entry, error())
  }

  whenEmpty(): Promise<void> {
    if (this.live.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.emptyWaiters.push(resolve))
  }
}
