import type { AmqpError, Delivery, EventContext, Sender, Session } from 'rhea'
import { BridgeError } from './errors.js'
import { describeFailure, Link, type LinkFailure, type LinkRole, type LinkSettings } from './link.js'
import type { Outbox, PendingSend } from './outbox.js'

/** rhea's per-session delivery buffer holds 2048 entries; one link never has more than this on the wire. */
export const MAX_IN_FLIGHT_PER_LINK = 1000

export interface LinkSenderOptions extends LinkSettings {
  address: string
  outbox: Outbox
  /**
   * `retry`: a failed link is re-created after a backoff and its messages wait (core links).
   * `reject`: a failed link rejects its messages with REJECTED and is given up (user-given addresses).
   */
  onFailure: 'retry' | 'reject'
  /** Told when the link opens or fails (the bridge recomputes its state, drops failed cached senders). */
  onChange?: (sender: LinkSender, failure?: AmqpError) => void
}

function withCondition(address: string, failure: LinkFailure): { address: string; condition?: string } {
  return failure.condition === undefined ? { address } : { address, condition: failure.condition }
}

/**
 * The sending side of a link: takes its address's waiting sends from the outbox while the link has
 * credit, and reports each delivery's outcome back (`accepted` resolves the send; `rejected`,
 * `released`, `modified` reject it). When the link goes, what was on the wire without an outcome goes
 * back to the head of the queue and is sent again (same message_id) on the next link.
 */
export class LinkSender {
  readonly address: string
  readonly #options: LinkSenderOptions
  readonly #outbox: Outbox
  readonly #link: Link<Sender>
  readonly #inflight = new Map<Delivery, PendingSend>()

  constructor(options: LinkSenderOptions) {
    this.address = options.address
    this.#options = options
    this.#outbox = options.outbox
    const role: LinkRole<Sender> = {
      kind: 'sender',
      create: (session) => this.#create(session),
      opened: () => {
        this.#options.onChange?.(this)
        this.#pump()
      },
      dropped: () => {
        this.#outbox.requeue(this.address, this.#inflight.values())
        this.#inflight.clear()
      },
      retry: (failure) => this.#retry(failure),
      failed: (error) =>
        this.#options.onChange?.(
          this,
          error instanceof Error ? { description: error.message } : (error ?? {}),
        ),
    }
    this.#link = new Link(options.address, options, role)
  }

  get isOpen(): boolean {
    return this.#link.isOpen
  }

  /** Messages to this address not settled yet (waiting or on the wire). */
  get pendingCount(): number {
    return this.#outbox.pendingFor(this.address)
  }

  /** A new send to this address is in the outbox: send it now, or attach first. */
  enqueue(entry: PendingSend): void {
    if (this.#link.isClosed) {
      this.#outbox.settle(entry, new BridgeError('CLOSED', 'sender closed', { address: this.address }))
      return
    }
    if (this.#link.current) this.#pump()
    else this.#link.attach()
  }

  /** Creates the link on the open connection, unless it exists or a retry is pending. */
  attach(): void {
    this.#link.attach()
  }

  connectionLost(): void {
    this.#link.connectionLost()
  }

  /** Closes the link and its session; pending messages stay with the outbox (the caller settles them). */
  close(): void {
    this.#link.close()
  }

  #create(session: Session): Sender {
    const sender = session.attach_sender({ target: { address: this.address, durable: 2 }, autosettle: true })
    sender.on('sendable', () => {
      if (this.#link.current === sender) this.#pump()
    })
    sender.on('accepted', (context: EventContext) => this.#outcome(context, undefined))
    sender.on('rejected', (context: EventContext) => {
      const state = context.delivery?.remote_state as { error?: AmqpError } | undefined
      const failure = describeFailure(state?.error)
      this.#outcome(
        context,
        new BridgeError('REJECTED', `rejected by the broker: ${failure.description}`, {
          ...withCondition(this.address, failure),
          ...(state?.error === undefined ? {} : { cause: state.error }),
        }),
      )
    })
    // rhea reports `modified` as `released` (treat_modified_as_released).
    sender.on('released', (context: EventContext) => {
      this.#outcome(context, new BridgeError('RELEASED', 'released by the broker', { address: this.address }))
    })
    return sender
  }

  /** The link failed: `retry` mode waits for the next link; `reject` mode gives up. */
  #retry(failure: LinkFailure): boolean {
    if (this.#options.onFailure === 'retry') return true
    this.#link.giveUp()
    this.#options.log.warn(
      { address: this.address, condition: failure.condition, description: failure.description },
      'amqp: sender link refused; its pending messages are rejected',
    )
    this.#outbox.rejectWaiting(
      this.address,
      () =>
        new BridgeError(
          'REJECTED',
          `the broker refused the link to ${this.address}: ${failure.description}`,
          {
            ...withCondition(this.address, failure),
            cause: failure,
          },
        ),
    )
    return false
  }

  #outcome(context: EventContext, error: BridgeError | undefined): void {
    const delivery = context.delivery
    if (!delivery) return
    const entry = this.#inflight.get(delivery)
    if (!entry) return
    this.#inflight.delete(delivery)
    this.#outbox.settle(entry, error)
    this.#pump()
  }

  #pump(): void {
    const sender = this.#link.current
    if (!sender || !this.#link.isOpen) return
    for (const entry of this.#outbox.waitingFor(this.address)) {
      if (this.#inflight.size >= MAX_IN_FLIGHT_PER_LINK || !sender.sendable()) break
      // Already encoded: format 0 tells rhea to send the bytes as they are.
      const delivery = sender.send(entry.payload, undefined, 0)
      this.#inflight.set(delivery, entry)
      this.#outbox.markInflight(entry)
    }
  }
}
