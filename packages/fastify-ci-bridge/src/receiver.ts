import type { Delivery, EventContext, Message, Receiver, Session } from 'rhea'
import { Link, type LinkFailure, type LinkSettings } from './link.js'

/** How the bridge settles a received message. */
export type Settlement =
  | { outcome: 'accepted' }
  | { outcome: 'rejected'; condition: string; description: string }
  | { outcome: 'released' }

export interface LinkReceiverOptions extends LinkSettings {
  address: string
  /** Source terminus durability: on RabbitMQ it is the durability of the queue `/queue/NAME` declares. */
  durable: boolean
  /** Max unsettled deliveries on this receiver. */
  credit: number
  /**
   * true: when the very first attach is refused, give up and reject `whenAttached()` (subscriptions:
   * the caller learns the address is bad). false: retry like any later failure (the bridge's own links).
   */
  failFast: boolean
  /**
   * Handles one message; never rejects. The delivery is settled with what it returns, at once when
   * that is a settlement (a handler that finished in the same turn), else once the promise resolves.
   */
  process: (message: Message) => Settlement | Promise<Settlement>
  /** Counts what was settled on the wire. */
  onSettled?: (outcome: Settlement['outcome']) => void
  /** Told when the link opens or fails. */
  onChange?: (receiver: LinkReceiver) => void
}

/** How a `process` that failed itself (it should not) settles its message. */
function internalError(error: unknown): Settlement {
  return {
    outcome: 'rejected',
    condition: 'amqp:internal-error',
    description: error instanceof Error ? error.message : String(error),
  }
}

/** The credit the link has left (rhea keeps it on the link; its typings omit it). */
function creditOf(receiver: Receiver): number {
  return (receiver as Receiver & { credit: number }).credit
}

/** The error `whenAttached()` rejects with when the first attach is refused. */
export class AttachRefused extends Error {
  readonly condition: string | undefined

  constructor(failure: LinkFailure) {
    super(failure.description)
    this.name = 'AttachRefused'
    this.condition = failure.condition
  }
}

/**
 * The receiving side of a link, with manual settlement and a real credit bound.
 *
 * rhea's `credit_window` refills as messages arrive, not as they are settled, and topping credit up
 * while messages are in flight made RabbitMQ over-deliver (docs/RABBITMQ.md, "Credit"). So:
 * `credit_window: 0`, `autoaccept: false`, and credit is added only when the link's credit is used up
 * (`receiver.credit === 0`), by `credit - outstanding`, once at most half of `credit` is outstanding.
 * Outstanding counts every message whose handler has not finished, on this link or an earlier one.
 *
 * A failed link (bad address, queue deleted, ...) is re-created after a backoff, except with
 * `failFast` before its first attach succeeded: then `whenAttached()` rejects and the receiver gives up.
 */
export class LinkReceiver {
  readonly address: string
  readonly #options: LinkReceiverOptions
  readonly #link: Link<Receiver>
  readonly #first: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void }
  #intakeStopped = false
  #everAttached = false
  #outstanding = 0
  #maxOutstanding = 0
  #idleWaiters: Array<() => void> = []

  constructor(options: LinkReceiverOptions) {
    this.address = options.address
    this.#options = options
    let resolve: () => void = () => {}
    let reject: (error: Error) => void = () => {}
    const promise = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    promise.catch(() => {})
    this.#first = { promise, resolve, reject }
    this.#link = new Link(options.address, options, {
      kind: 'receiver',
      create: (session) => this.#create(session),
      opened: () => {
        this.#everAttached = true
        this.#first.resolve()
        this.#topUp()
        this.#options.onChange?.(this)
      },
      dropped: () => {},
      retry: (failure) => {
        if (this.#everAttached || !this.#options.failFast) return true
        this.#link.giveUp()
        this.#options.log.warn(
          { address: this.address, condition: failure.condition, description: failure.description },
          'amqp: receiver link refused',
        )
        this.#first.reject(new AttachRefused(failure))
        return false
      },
      failed: () => this.#options.onChange?.(this),
    })
  }

  get isOpen(): boolean {
    return this.#link.isOpen
  }

  /** Closed, or given up after its first attach was refused. */
  get isClosed(): boolean {
    return this.#link.isClosed
  }

  /** Messages whose handler has not finished. */
  get outstandingCount(): number {
    return this.#outstanding
  }

  /** The highest `outstandingCount` seen. */
  get maxOutstandingSeen(): number {
    return this.#maxOutstanding
  }

  /** Resolves on the first successful attach; rejects (AttachRefused) when the first attach is refused. */
  whenAttached(): Promise<void> {
    return this.#first.promise
  }

  attach(): void {
    this.#link.attach()
  }

  connectionLost(): void {
    this.#link.connectionLost()
  }

  /**
   * No new messages: no more credit is given, and anything still arriving on credit already given is
   * released at once (the broker redelivers it elsewhere or later). Not a drain: RabbitMQ answers a
   * drain with a flow that rhea reports as an error on the console.
   */
  stopIntake(): void {
    this.#intakeStopped = true
  }

  /** Resolves once no handler is running. */
  whenIdle(): Promise<void> {
    if (this.#outstanding === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Detaches the link (unsettled deliveries go back to the queue) and closes its session. */
  close(): void {
    this.#intakeStopped = true
    this.#link.close()
    this.#first.reject(new Error('receiver closed'))
  }

  #create(session: Session): Receiver {
    const receiver = session.attach_receiver({
      source: { address: this.address, durable: this.#options.durable ? 2 : 0 },
      credit_window: 0,
      autoaccept: false,
      autosettle: true,
    })
    // Attached at once: rhea auto-accepts messages that arrive before a `message` listener exists.
    receiver.on('message', (context: EventContext) => this.#onMessage(receiver, context))
    return receiver
  }

  #onMessage(receiver: Receiver, context: EventContext): void {
    const delivery = context.delivery
    const message = context.message
    if (!delivery) return
    if (!message || this.#intakeStopped || this.#link.current !== receiver) {
      // Closing, or a frame for a link already given up: give it back to the broker.
      this.#settle(receiver, delivery, { outcome: 'released' })
      return
    }
    this.#outstanding += 1
    if (this.#outstanding > this.#maxOutstanding) this.#maxOutstanding = this.#outstanding
    let settlement: Settlement | Promise<Settlement>
    try {
      settlement = this.#options.process(message)
    } catch (error) {
      settlement = internalError(error)
    }
    if (settlement instanceof Promise) {
      settlement.then(
        (outcome) => this.#finish(receiver, delivery, outcome),
        (error: unknown) => this.#finish(receiver, delivery, internalError(error)),
      )
    } else this.#finish(receiver, delivery, settlement)
  }

  /** A handled message: settled, its credit given back, and `whenIdle` told when it was the last. */
  #finish(receiver: Receiver, delivery: Delivery, settlement: Settlement): void {
    this.#settle(receiver, delivery, settlement)
    this.#outstanding -= 1
    this.#topUp()
    if (this.#outstanding === 0 && this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const wake of waiters) wake()
    }
  }

  #settle(receiver: Receiver, delivery: Delivery, settlement: Settlement): void {
    // A delivery of a link that is gone cannot be settled: the broker requeued it already.
    if (this.#link.current !== receiver || !this.#link.isOpen) return
    try {
      if (settlement.outcome === 'accepted') delivery.accept()
      else if (settlement.outcome === 'released') delivery.release()
      else delivery.reject({ condition: settlement.condition, description: settlement.description })
      this.#options.onSettled?.(settlement.outcome)
    } catch (error) {
      this.#options.log.warn({ err: error, address: this.address }, 'amqp: could not settle a delivery')
    }
  }

  #topUp(): void {
    const receiver = this.#link.current
    if (!receiver || !this.#link.isOpen || this.#intakeStopped) return
    const credit = this.#options.credit
    if (creditOf(receiver) === 0 && this.#outstanding <= Math.floor(credit / 2)) {
      receiver.add_credit(credit - this.#outstanding)
    }
  }
}
