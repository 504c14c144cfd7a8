import type { AmqpError, Connection, EventContext, Receiver, Sender, Session } from 'rhea'
import { RetryTimer } from './backoff.js'
import type { Timers } from './timers.js'
import type { BridgeLogger } from './types.js'

/** What a peer said when it ended a link or its session. */
export interface LinkFailure {
  condition?: string
  description: string
}

export function describeFailure(error: AmqpError | Error | undefined): LinkFailure {
  if (error instanceof Error) return { description: error.message }
  const failure: LinkFailure = {
    description: error?.description ?? error?.condition ?? 'link closed by the peer',
  }
  if (error?.condition !== undefined) failure.condition = error.condition
  return failure
}

/** What the bridge's links have in common (from the resolved options). */
export interface LinkSettings {
  log: BridgeLogger
  timers: Timers
  /** The open connection, if any. */
  connection: () => Connection | undefined
  retryDelays: { initialMs: number; maxMs: number }
  /** A link the peer does not answer within this time is treated as failed. */
  attachTimeoutMs: number
}

/** What a sender or receiver does at each step of its link's life. */
export interface LinkRole<L extends Sender | Receiver> {
  readonly kind: 'sender' | 'receiver'
  /** Creates the rhea link on its new session, with the listeners of its role (messages, outcomes). */
  create(session: Session): L
  /** The peer answered the attach. */
  opened(): void
  /** The link is gone (failed, its connection lost, or closed): let go of what was on it. */
  dropped(): void
  /** The link failed while not closed: true to re-create it after a backoff; false gives up (the role logs why). */
  retry(failure: LinkFailure): boolean
  /** Told after a failure was handled (retry scheduled or given up). */
  failed(error: AmqpError | Error | undefined): void
}

/**
 * The life of one AMQP link on its own session (a bad address ends the whole session on RabbitMQ,
 * so links never share one): attach when a connection is open, an attach timeout, failure from any of
 * the session's or link's error and close events, retry with backoff, connection loss (rhea sends
 * nothing for the links of a dropped connection), close. Events of a link already replaced are ignored.
 */
export class Link<L extends Sender | Receiver> {
  readonly address: string
  readonly #settings: LinkSettings
  readonly #role: LinkRole<L>
  readonly #retry: RetryTimer
  #session: Session | undefined
  #link: L | undefined
  #open = false
  #closed = false
  #attachTimer: ReturnType<typeof setTimeout> | undefined

  constructor(address: string, settings: LinkSettings, role: LinkRole<L>) {
    this.address = address
    this.#settings = settings
    this.#role = role
    this.#retry = new RetryTimer(settings.timers, settings.retryDelays.initialMs, settings.retryDelays.maxMs)
  }

  /** The rhea link while it exists (attaching or open). */
  get current(): L | undefined {
    return this.#link
  }

  get isOpen(): boolean {
    return this.#open
  }

  /** Closed, or given up. */
  get isClosed(): boolean {
    return this.#closed
  }

  /** Creates the link on the open connection, unless it exists, a retry is pending or there is no connection. */
  attach(): void {
    if (this.#closed || this.#link || this.#retry.pending) return
    const connection = this.#settings.connection()
    if (!connection) return
    const session = connection.create_session()
    const link = this.#role.create(session)
    this.#session = session
    this.#link = link
    const current = () => this.#link === link
    const kind = this.#role.kind
    link.on(`${kind}_open`, () => {
      if (!current()) return
      this.#settings.timers.clear(this.#attachTimer)
      this.#open = true
      this.#retry.reset()
      this.#role.opened()
    })
    session.on('session_error', (context: EventContext) => {
      if (current()) this.#failed(context.session?.error)
    })
    session.on('session_close', () => {
      if (current()) this.#failed(session.error)
    })
    link.on(`${kind}_error`, () => {
      if (current()) this.#failed(link.error)
    })
    link.on(`${kind}_close`, () => {
      if (current()) this.#failed(link.error)
    })
    session.begin()
    const timeoutMs = this.#settings.attachTimeoutMs
    this.#settings.timers.clear(this.#attachTimer)
    this.#attachTimer = this.#settings.timers.timeout(() => {
      if (current() && !this.#open) this.#failed(new Error(`no answer to the attach within ${timeoutMs} ms`))
    }, timeoutMs)
  }

  /** Given up without a close of our own (a refused first attach, a refused address): no retry, no re-attach. */
  giveUp(): void {
    this.#closed = true
    this.#retry.cancel()
  }

  /** The connection is gone: forget the link, cancel a pending retry; the next connection attaches again. */
  connectionLost(): void {
    this.#retry.cancel()
    this.#retry.reset()
    this.#drop()
  }

  /** Detaches the link and ends its session; no re-attach after this. */
  close(): void {
    this.#closed = true
    this.#retry.cancel()
    const session = this.#session
    const link = this.#link
    this.#drop()
    try {
      link?.close()
      session?.close()
    } catch {
      // the connection is already gone
    }
  }

  #drop(): void {
    this.#settings.timers.clear(this.#attachTimer)
    this.#attachTimer = undefined
    this.#link = undefined
    this.#session = undefined
    this.#open = false
    this.#role.dropped()
  }

  #failed(error: AmqpError | Error | undefined): void {
    const session = this.#session
    this.#drop()
    try {
      session?.close()
    } catch {
      // gone with its connection
    }
    if (this.#closed) return
    const failure = describeFailure(error)
    if (this.#role.retry(failure)) {
      this.#settings.log.error(
        { address: this.address, condition: failure.condition, description: failure.description },
        `amqp: ${this.#role.kind} link failed; retrying`,
      )
      this.#retry.schedule(() => this.attach())
    }
    this.#role.failed(error)
  }
}
