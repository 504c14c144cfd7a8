import type { AmqpError, Connection, Delivery, EventContext, Message, Receiver, Session } from 'rhea'
import { RetryTimer } from './backoff.js'
import type { BridgeLogger } from './types.js'

/** How the bridge settles a received message. */
export type Settlement =
  | { outcome: 'accepted' }
  | { outcome: 'rejected'; condition: string; description: string }
  | { outcome: 'released' }

export interface LinkReceiverOptions {
  address: string
  /** Source terminus durability: on RabbitMQ it is the durability of the queue `/queue/NAME` declares. */
  durable: boolean
  /** Max unsettled deliveries on this receiver. */
  credit: number
  log: BridgeLogger
  connection: () => Connection | undefined
  retryDelays: { initialMs: number; maxMs: number }
  /** A link the peer does not answer within this time is treated as failed. */
  attachTimeoutMs: number
  /**
   * true: when the very first attach is refused, give up and reject `whenAttached()` (subscriptions:
   * the caller learns the address is bad). false: retry like any later failure (the bridge's own links).
   */
  failFast: boolean
  /** Handles one message; never rejects. The delivery is settled with what it resolves to. */
  process: (message: Message) => Promise<Settlement>
  /** Counts what was settled on the wire. */
  onSettled?: (outcome: Settlement['outcome']) => void
  /** Told when the link opens or fails. */
  onChange?: (receiver: LinkReceiver) => void
}

/** The credit the link has left (rhea keeps it on the link; its typings omit it). */
function creditOf(receiver: Receiver): number {
  return (receiver as Receiver & { credit: number }).credit
}

type FirstAttach = { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void }

/**
 * One receiving link on its own AMQP session, with manual settlement and a real credit bound.
 *
 * rhea's `credit_window` refills as messages arrive, not as they are settled, and topping credit up
 * while messages are in flight made RabbitMQ over-deliver (AMQP-NOTES.md). So: `credit_window: 0`,
 * `autoaccept: false`, and credit is added only when the link's credit is used up (`receiver.credit
 * === 0`), by `credit - outstanding`, once at most half of `credit` is outstanding. Outstanding counts
 * every message whose handler has not finished, on this link or an earlier one.
 *
 * A failed link (bad address, queue deleted, ...) is re-created after a backoff, except with
 * `failFast` before its first attach succeeded: then `whenAttached()` rejects and the receiver gives up.
 */
export class LinkReceiver {
  readonly address: string
  private session: Session | undefined
  private receiver: Receiver | undefined
  private open = false
  private closed = false
  private intakeStopped = false
  private everAttached = false
  private outstanding = 0
  private maxOutstanding = 0
  private idleWaiters: Array<() => void> = []
  private readonly retry: RetryTimer
  private attachTimer: NodeJS.Timeout | undefined
  private readonly first: FirstAttach

  constructor(private readonly options: LinkReceiverOptions) {
    this.address = options.address
    this.retry = new RetryTimer(options.retryDelays.initialMs, options.retryDelays.maxMs)
    let resolve: () => void = () => {}
    let reject: (error: Error) => void = () => {}
    const promise = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    promise.catch(() => {})
    this.first = { promise, resolve, reject }
  }

  get isOpen(): boolean {
    return this.open
  }

  /** Closed, or given up after its first attach was refused. */
  get isClosed(): boolean {
    return this.closed
  }

  /** Messages whose handler has not finished. */
  get outstandingCount(): number {
    return this.outstanding
  }

  /** The highest `outstandingCount` seen. */
  get maxOutstandingSeen(): number {
    return this.maxOutstanding
  }

  /** Resolves on the first successful attach; rejects when the first attach is refused. */
  whenAttached(): Promise<void> {
    return this.first.promise
  }

  attach(): void {
    if (this.closed || this.receiver || this.retry.pending) return
    const connection = this.options.connection()
    if (!connection) return
    const session = connection.create_session()
    const receiver = session.attach_receiver({
      source: { address: this.address, durable: this.options.durable ? 2 : 0 },
      credit_window: 0,
      autoaccept: false,
      autosettle: true,
    })
    this.session = session
    this.receiver = receiver
    const current = () => this.receiver === receiver
    // Attached at once: rhea auto-accepts messages that arrive before a `message` listener exists.
    receiver.on('message', (context: EventContext) => this.onMessage(receiver, context))
    receiver.on('receiver_open', () => {
      if (!current()) return
      clearTimeout(this.attachTimer)
      this.open = true
      this.everAttached = true
      this.retry.reset()
      this.first.resolve()
      this.topUp()
      this.options.onChange?.(this)
    })
    session.on('session_error', (context: EventContext) => {
      if (current()) this.failed(context.session?.error)
    })
    session.on('session_close', () => {
      if (current()) this.failed(session.error)
    })
    receiver.on('receiver_error', () => {
      if (current()) this.failed(receiver.error)
    })
    receiver.on('receiver_close', () => {
      if (current()) this.failed(receiver.error)
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

  private onMessage(receiver: Receiver, context: EventContext): void {
    const delivery = context.delivery
    const message = context.message
    if (!delivery) return
    if (!message || this.intakeStopped || this.receiver !== receiver) {
      // Closing, or a frame for a link already given up: give it back to the broker.
      this.settle(receiver, delivery, { outcome: 'released' })
      return
    }
    this.outstanding += 1
    if (this.outstanding > this.maxOutstanding) this.maxOutstanding = this.outstanding
    this.options
      .process(message)
      .catch(
        (error: unknown): Settlement => ({
          outcome: 'rejected',
          condition: 'amqp:internal-error',
          description: error instanceof Error ? error.message : String(error),
        }),
      )
      .then((settlement) => {
        this.settle(receiver, delivery, settlement)
        this.outstanding -= 1
        this.topUp()
        if (this.outstanding === 0) {
          const waiters = this.idleWaiters
          this.idleWaiters = []
          for (const wake of waiters) wake()
        }
      })
  }

  private settle(receiver: Receiver, delivery: Delivery, settlement: Settlement): void {
    // A delivery of a link that is gone cannot be settled: the broker requeued it already.
    if (this.receiver !== receiver || !this.open) return
    try {
      if (settlement.outcome === 'accepted') delivery.accept()
      else if (settlement.outcome === 'released') delivery.release()
      else delivery.reject({ condition: settlement.condition, description: settlement.description })
      this.options.onSettled?.(settlement.outcome)
    } catch (error) {
      this.options.log.warn({ err: error, address: this.address }, 'amqp: could not settle a delivery')
    }
  }

  private topUp(): void {
    const receiver = this.receiver
    if (!receiver || !this.open || this.intakeStopped) return
    const credit = this.options.credit
    if (creditOf(receiver) === 0 && this.outstanding <= Math.floor(credit / 2)) {
      receiver.add_credit(credit - this.outstanding)
    }
  }

  private failed(error: AmqpError | Error | undefined): void {
    clearTimeout(this.attachTimer)
    const session = this.session
    this.receiver = undefined
    this.session = undefined
    this.open = false
    try {
      session?.close()
    } catch {
      // gone with its connection
    }
    if (this.closed) return
    const description =
      error instanceof Error
        ? error.message
        : (error?.description ?? error?.condition ?? 'closed by the peer')
    const condition = error instanceof Error ? undefined : error?.condition
    if (!this.everAttached && this.options.failFast) {
      this.closed = true
      this.options.log.warn({ address: this.address, condition, description }, 'amqp: receiver link refused')
      this.first.reject(Object.assign(new Error(description), { condition }))
    } else {
      this.options.log.error(
        { address: this.address, condition, description },
        'amqp: receiver link failed; retrying',
      )
      this.retry.schedule(() => this.attach())
    }
    this.options.onChange?.(this)
  }

  connectionLost(): void {
    clearTimeout(this.attachTimer)
    this.retry.cancel()
    this.retry.reset()
    this.receiver = undefined
    this.session = undefined
    this.open = false
  }

  /**
   * No new messages: no more credit is given, and anything still arriving on credit already given is
   * released at once (the broker redelivers it elsewhere or later). Not a drain: RabbitMQ answers a
   * drain with a flow that rhea reports as an error on the console.
   */
  stopIntake(): void {
    this.intakeStopped = true
  }

  /** Resolves once no handler is running. */
  whenIdle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Detaches the link (unsettled deliveries go back to the queue) and closes its session. */
  close(): void {
    clearTimeout(this.attachTimer)
    this.closed = true
    this.intakeStopped = true
    this.retry.cancel()
    const session = this.session
    const receiver = this.receiver
    this.receiver = undefined
    this.session = undefined
    this.open = false
    this.first.reject(new Error('receiver closed'))
    try {
      receiver?.close()
      session?.close()
    } catch {
      // the connection is already gone
    }
  }
}
