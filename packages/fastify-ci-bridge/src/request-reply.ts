import { randomUUID } from 'node:crypto'
import type { Message } from 'rhea'
import { idKey } from './amqp-ids.js'
import { jsonBodyOf, metaOf } from './codec.js'
import { BridgeError } from './errors.js'
import { AttachRefused, type LinkReceiver, type Settlement } from './receiver.js'
import type { Deadline, DeadlineQueue, Timers } from './timers.js'
import type { BridgeLogger, RequestOptions, RequestReplyResult, SendOptions } from './types.js'

export interface RequestReplyOptions {
  /** The `reply_to` of requests. */
  replyTo: string
  defaultTimeoutMs: number
  log: BridgeLogger
  timers: Timers
  /** Creates (and attaches) the reply receiver; called on the first request, again after it was refused. */
  createReceiver: (process: (message: Message) => Promise<Settlement>) => LinkReceiver
  send: (address: string, body: object, options: SendOptions) => Promise<void>
}

interface Waiting {
  resolve: (result: RequestReplyResult) => void
  reject: (error: Error) => void
  deadline: Deadline
}

/** A request waiting for its reply, and what it rejects with when none comes in time. */
interface Expiry {
  key: string
  address: string
  timeoutMs: number
}

/**
 * request(): sends with `reply_to` = this bridge's reply queue and a fresh message_id, and resolves
 * with the first reply whose `correlation_id` is that message_id. The reply receiver is created on
 * the first request. Late or unknown replies are accepted and dropped.
 */
export class RequestReply {
  readonly #options: RequestReplyOptions
  readonly #waiting = new Map<string, Waiting>()
  /** Requests with the default timeout share one timer; others get their own. */
  readonly #deadlines: DeadlineQueue<Expiry>
  #receiver: LinkReceiver | undefined
  #closed = false

  constructor(options: RequestReplyOptions) {
    this.#options = options
    this.#deadlines = options.timers.deadlines(options.defaultTimeoutMs, (expiry) => this.#expire(expiry))
  }

  get pendingCount(): number {
    return this.#waiting.size
  }

  /** The reply receiver, once a request created it. */
  get replyReceiver(): LinkReceiver | undefined {
    return this.#receiver
  }

  request(address: string, body: object, options: RequestOptions = {}): Promise<RequestReplyResult> {
    if (this.#closed) return Promise.reject(new BridgeError('CLOSED', 'bridge closed', { address }))
    const { timeoutMs = this.#options.defaultTimeoutMs, ...sendOptions } = options
    const messageId = sendOptions.messageId ?? randomUUID()
    const key = typeof messageId === 'string' ? messageId : idKey(messageId)
    if (this.#waiting.has(key)) {
      return Promise.reject(new TypeError(`a request with message id ${key} is already waiting`))
    }
    return new Promise<RequestReplyResult>((resolve, reject) => {
      const expiry: Expiry = { key, address, timeoutMs }
      const deadline = this.#deadline(expiry)
      const waiting: Waiting = { resolve, reject, deadline }
      this.#waiting.set(key, waiting)
      const fail = (error: unknown) => {
        if (this.#waiting.get(key) !== waiting) return
        this.#waiting.delete(key)
        deadline.cancel()
        reject(error instanceof Error ? error : new Error(String(error)))
      }
      this.#ensureReceiver()
        .then(() =>
          this.#options.send(address, body, { ...sendOptions, messageId, replyTo: this.#options.replyTo }),
        )
        .catch(fail)
    })
  }

  #deadline(expiry: Expiry): Deadline {
    if (expiry.timeoutMs === this.#options.defaultTimeoutMs) return this.#deadlines.add(expiry)
    const timers = this.#options.timers
    const handle = timers.timeout(() => this.#expire(expiry), expiry.timeoutMs)
    return { cancel: () => timers.clear(handle) }
  }

  #expire({ key, address, timeoutMs }: Expiry): void {
    const entry = this.#waiting.get(key)
    if (!entry) return
    this.#waiting.delete(key)
    entry.reject(new BridgeError('TIMEOUT', `no reply within ${timeoutMs} ms`, { address }))
  }

  async #ensureReceiver(): Promise<void> {
    if (!this.#receiver) {
      const receiver = this.#options.createReceiver((message) => this.#onReply(message))
      this.#receiver = receiver
      receiver.whenAttached().catch(() => {
        if (this.#receiver === receiver) this.#receiver = undefined
      })
    }
    try {
      await this.#receiver.whenAttached()
    } catch (error) {
      const condition = error instanceof AttachRefused ? error.condition : undefined
      throw new BridgeError('REJECTED', `reply queue refused: ${(error as Error).message}`, {
        ...(condition === undefined ? {} : { condition }),
        cause: error,
      })
    }
  }

  async #onReply(message: Message): Promise<Settlement> {
    const meta = metaOf(message, 'reply')
    const key = meta.amqpCorrelationId === undefined ? undefined : idKey(meta.amqpCorrelationId)
    const entry = key === undefined ? undefined : this.#waiting.get(key)
    if (!entry || key === undefined) {
      this.#options.log.debug({ correlationId: key }, 'amqp: reply without a waiting request dropped')
      return { outcome: 'accepted' }
    }
    this.#waiting.delete(key)
    entry.deadline.cancel()
    entry.resolve({ body: jsonBodyOf(message), meta })
    return { outcome: 'accepted' }
  }

  /** Rejects every waiting request with CLOSED; the receiver is closed by its owner. */
  close(): void {
    this.#closed = true
    for (const [id, entry] of this.#waiting) {
      entry.deadline.cancel()
      this.#waiting.delete(id)
      entry.reject(new BridgeError('CLOSED', 'bridge closed before the reply came'))
    }
  }
}
