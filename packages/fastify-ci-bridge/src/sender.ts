import type { AmqpError, Connection, Delivery, EventContext, Sender, Session } from 'rhea'
import { RetryTimer } from './backoff.js'
import { BridgeError } from './errors.js'
import type { Outbox, PendingSend, SendHolder } from './outbox.js'
import type { BridgeLogger } from './types.js'

/** rhea's per-session delivery buffer holds 2048 entries; one link never has more than this on the wire. */
export const MAX_IN_FLIGHT_PER_LINK = 1000

export interface LinkSenderOptions {
  address: string
  outbox: Outbox
  log: BridgeLogger
  /** The open connection, if any. */
  connection: () => Connection | undefined
  /**
   * `retry`: a failed link is re-created after a backoff and its messages wait (core links).
   * `reject`: a failed link rejects its messages with REJECTED and is given up (user-given addresses).
   */
  onFailure: 'retry' | 'reject'
  retryDelays: { initialMs: number; maxMs: number }
  /** A link the peer does not answer within this time is treated as failed. */
  attachTimeoutMs: number
  /** Told when the link opens or fails (the bridge recomputes its state, drops failed cached senders). */
  onChange?: (sender: LinkSender, failure?: AmqpError) => void
}

function describe(error: AmqpError | Error | undefined): { condition?: string; description: string } {
  if (!error) return { description: 'link closed by the peer' }
  if (error instanceof Error) return { description: error.message }
  const result: { condition?: string; description: string } = {
    description: error.description ?? error.condition ?? 'link error',
  }
  if (error.condition !== undefined) result.condition = error.condition
  return result
}

/**
 * One sending link on its own AMQP session (a bad address ends the whole session on RabbitMQ, so
 * it must not share one), with its queue of pending sends. Deliveries on the wire are tracked by
 * rhea delivery; `accepted` resolves the send, `rejected` / `released` / `modified` reject it. When the
 * connection goes, what was on the wire without an outcome goes back to the head of the queue and is
 * sent again (same message_id) on the next link.
 */
export class LinkSender implements SendHolder {
  readonly address: string
  private queue = new Set<PendingSend>()
  private readonly inflight = new Map<Delivery, PendingSend>()
  private session: Session | undefined
  private sender: Sender | undefined
  private open = false
  private closed = false
  private readonly retry: RetryTimer
  private attachTimer: NodeJS.Timeout | undefined

  constructor(private readonly options: LinkSenderOptions) {
    this.address = options.address
    this.retry = new RetryTimer(options.retryDelays.initialMs, options.retryDelays.maxMs)
  }

  get isOpen(): boolean {
    return this.open
  }

  /** Messages this sender holds (waiting or on the wire). */
  get pendingCount(): number {
    let count = 0
    for (const entry of this.queue) if (entry.state !== 'done') count += 1
    for (const entry of this.inflight.values()) if (entry.state !== 'done') count += 1
    return count
  }

  enqueue(entry: PendingSend): void {
    if (this.closed) {
      this.options.outbox.settle(entry, new BridgeError('CLOSED', 'sender closed', { address: this.address }))
      return
    }
    entry.holder = this
    this.queue.add(entry)
    if (this.sender) this.pump()
    else this.attach()
  }

  forget(entry: PendingSend): void {
    this.queue.delete(entry)
  }

  /** Creates the link on the open connection, unless it exists or a retry is pending. */
  attach(): void {
    if (this.closed || this.sender || this.retry.pending) return
    const connection = this.options.connection()
    if (!connection) return
    const session = connection.create_session()
    const sender = session.attach_sender({
      target: { address: this.address, durable: 2 },
      autosettle: true,
    })
    this.session = session
    this.sender = sender
    const current = () => this.sender === sender
    session.on('session_error', (context: EventContext) => {
      if (current()) this.failed(context.session?.error)
    })
    session.on('session_close', () => {
      if (current()) this.failed(session.error)
    })
    sender.on('sender_error', () => {
      if (current()) this.failed(sender.error)
    })
    sender.on('sender_close', () => {
      if (current()) this.failed(sender.error)
    })
    sender.on('sender_open', () => {
      if (!current()) return
      clearTimeout(this.attachTimer)
      this.open = true
      this.retry.reset()
      this.options.onChange?.(this)
      this.pump()
    })
    sender.on('sendable', () => {
      if (current()) this.pump()
    })
    sender.on('accepted', (context: EventContext) => this.outcome(context, undefined))
    sender.on('rejected', (context: EventContext) => {
      const state = context.delivery?.remote_state as { error?: AmqpError } | undefined
      const info = describe(state?.error)
      this.outcome(
        context,
        new BridgeError('REJECTED', `rejected by the broker: ${info.description}`, {
          address: this.address,
          ...(info.condition === undefined ? {} : { condition: info.condition }),
        }),
      )
    })
    // rhea reports `modified` as `released` (treat_modified_as_released).
    sender.on('released', (context: EventContext) => {
      this.outcome(context, new BridgeError('RELEASED', 'released by the broker', { address: this.address }))
    })
    session.begin()
    clearTimeout(this.attachTimer)
    this.attachTimer = setTimeout(() => {
      if (current() && !this.open) {
        this.failed(new Error(`no answer to the attach within ${this.options.attachTimeoutMs} ms`))
      }
    }, this.options.attachTimeoutMs)
    this.attachTimer.unref()
  }

  private outcome(context: EventContext, error: BridgeError | undefined): void {
    const delivery = context.delivery
    if (!delivery) return
    const entry = this.inflight.get(delivery)
    if (!entry) return
    this.inflight.delete(delivery)
    this.options.outbox.settle(entry, error)
    this.pump()
  }

  private pump(): void {
    const sender = this.sender
    if (!sender || !this.open) return
    for (const entry of this.queue) {
      if (this.inflight.size >= MAX_IN_FLIGHT_PER_LINK || !sender.sendable()) break
      this.queue.delete(entry)
      if (entry.state === 'done') continue
      const delivery = sender.send(entry.message)
      this.inflight.set(delivery, entry)
      this.options.outbox.markInflight(entry)
    }
  }

  /** Drops the link; what was on the wire goes back to the head of the queue. */
  private detach(): void {
    clearTimeout(this.attachTimer)
    this.sender = undefined
    this.session = undefined
    this.open = false
    const back = [...this.inflight.values()].filter((entry) => entry.state !== 'done')
    back.sort((a, b) => a.seq - b.seq)
    this.inflight.clear()
    for (const entry of back) this.options.outbox.markWaiting(entry)
    this.queue = new Set([...back, ...this.queue])
  }

  private failed(error: AmqpError | Error | undefined): void {
    const session = this.session
    this.detach()
    try {
      session?.close()
    } catch {
      // already gone with its connection
    }
    const info = describe(error)
    if (this.closed) return
    if (this.options.onFailure === 'reject') {
      this.options.log.warn(
        { address: this.address, condition: info.condition, description: info.description },
        'amqp: sender link refused; its pending messages are rejected',
      )
      this.rejectAll(info)
    } else {
      this.options.log.error(
        { address: this.address, condition: info.condition, description: info.description },
        'amqp: sender link failed; retrying',
      )
      this.retry.schedule(() => this.attach())
    }
    this.options.onChange?.(this, error instanceof Error ? { description: error.message } : (error ?? {}))
  }

  private rejectAll(info: { condition?: string; description: string }): void {
    const entries = [...this.queue]
    this.queue.clear()
    for (const entry of entries) {
      this.options.outbox.settle(
        entry,
        new BridgeError('REJECTED', `the broker refused the link to ${this.address}: ${info.description}`, {
          address: this.address,
          ...(info.condition === undefined ? {} : { condition: info.condition }),
        }),
      )
    }
  }

  /** The connection is gone (no event comes from rhea for its links): requeue, wait for the next one. */
  connectionLost(): void {
    this.retry.cancel()
    this.retry.reset()
    this.detach()
  }

  /** Closes the link and its session; pending messages stay with the outbox (the caller settles them). */
  close(): void {
    this.closed = true
    this.retry.cancel()
    const session = this.session
    const sender = this.sender
    this.detach()
    this.queue.clear()
    try {
      sender?.close()
      session?.close()
    } catch {
      // the connection is already gone
    }
  }
}
