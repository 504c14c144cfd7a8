import { randomUUID } from 'node:crypto'
import { decodeResult, type Result } from '@session-gateway/message-schema'
import rhea, { type Connection, type Delivery, type Message, type Sender } from 'rhea'
import { BROKER } from './fake-user-manager.js'
import { Waiters } from './waiters.js'

function bodyOf(message: Message): unknown {
  const b = message.body as { typecode?: number; content?: Buffer } | undefined
  if (b && typeof b === 'object' && 'typecode' in b && b.typecode === 0x75) return b.content
  return b
}

export type Outcome = 'accepted' | 'rejected' | 'released' | 'modified'

/**
 * A pipelined Communication Interface played by a bare rhea client: sends many messages to one
 * address with a bounded number unsettled, records each one's outcome from the broker, and collects
 * the RESULTs that come back on its own reply queue.
 */
export class CiPeer {
  readonly replyQueue: string
  readonly results = new Map<string, Result[]>()
  /** Reply bodies that were not a decodable RESULT. */
  readonly badResults: unknown[] = []
  readonly outcomes: Record<Outcome, number> = { accepted: 0, rejected: 0, released: 0, modified: 0 }
  /** Errors that ended a sending link (a message the broker could not take ends its link). */
  readonly linkErrors: string[] = []
  readonly #senders = new Map<string, Sender>()
  readonly #unsettled = new Map<Delivery, (outcome: Outcome) => void>()
  readonly #waiters = new Waiters()

  private constructor(
    readonly connection: Connection,
    replyQueue?: string,
  ) {
    this.replyQueue = replyQueue ?? `test-ci-results-${randomUUID()}`
  }

  /** Connects to the machine's broker; `replyQueue` names its results queue (default: a fresh one). */
  static async start(replyQueue?: string): Promise<CiPeer> {
    const container = rhea.create_container({ id: `ci-peer-${randomUUID()}` })
    container.on('error', () => {})
    const connection = container.connect({ ...BROKER, reconnect: false })
    connection.on('disconnected', () => {})
    await new Promise<void>((resolve, reject) => {
      connection.once('connection_open', () => resolve())
      connection.once('connection_error', reject)
    })
    const peer = new CiPeer(connection, replyQueue)
    for (const event of ['connection_error', 'connection_close', 'disconnected'] as const) {
      connection.on(event, (ctx: rhea.EventContext) => {
        const error = ctx.connection?.error as { condition?: string; description?: string } | undefined
        peer.linkErrors.push(`${event}: ${error?.condition ?? ''} ${error?.description ?? ''}`.trim())
        peer.wake()
      })
    }
    const receiver = connection.open_receiver({
      source: { address: `/queue/${peer.replyQueue}` },
      credit_window: 1000,
    })
    receiver.on('message', (ctx) => {
      const message = ctx.message as Message
      const decoded = decodeResult(bodyOf(message))
      const key = message.correlation_id === undefined ? '' : String(message.correlation_id)
      if (decoded.ok) peer.results.set(key, [...(peer.results.get(key) ?? []), decoded.message])
      else if (peer.badResults.length < 100) peer.badResults.push(bodyOf(message))
      peer.wake()
    })
    await new Promise((resolve) => receiver.once('receiver_open', resolve))
    return peer
  }

  get replyTo(): string {
    return `/amq/queue/${this.replyQueue}`
  }

  get inFlight(): number {
    return this.#unsettled.size
  }

  wake(): void {
    this.#waiters.wake()
  }

  waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.#waiters.until(check, timeoutMs, what)
  }

  async #sender(address: string): Promise<Sender> {
    const existing = this.#senders.get(address)
    if (existing) return existing
    const sender = this.connection.open_sender({ target: { address } })
    this.#senders.set(address, sender)
    const settle = (outcome: Outcome) => (ctx: rhea.EventContext) => {
      const done = ctx.delivery ? this.#unsettled.get(ctx.delivery) : undefined
      if (!done || !ctx.delivery) return
      this.#unsettled.delete(ctx.delivery)
      this.outcomes[outcome]++
      done(outcome)
      this.wake()
    }
    sender.on('accepted', settle('accepted'))
    sender.on('rejected', settle('rejected'))
    sender.on('released', settle('released'))
    sender.on('modified', settle('modified'))
    const failed = (what: string) => (ctx: rhea.EventContext) => {
      const error = (ctx.sender?.error ?? ctx.session?.error ?? ctx.connection?.error) as
        | { condition?: string; description?: string }
        | undefined
      this.linkErrors.push(`${what}: ${error?.condition ?? ''} ${error?.description ?? ''}`.trim())
      this.wake()
    }
    sender.on('sender_error', failed('sender_error'))
    sender.on('sender_close', failed('sender_close'))
    sender.session.on('session_error', failed('session_error'))
    await new Promise((resolve) => sender.once('sendable', resolve))
    return sender
  }

  /**
   * Sends one message (waiting first while `maxInFlight` are unsettled); resolves once it is on the
   * wire with its message_id and a promise of its outcome.
   */
  async send(
    address: string,
    message: Omit<Message, 'message_id'> & { message_id?: Message['message_id'] },
    maxInFlight = 100,
  ): Promise<{ messageId: string; outcome: Promise<Outcome> }> {
    const sender = await this.#sender(address)
    if (this.#unsettled.size >= maxInFlight || !sender.sendable()) {
      await this.waitUntil(
        () => (this.#unsettled.size < maxInFlight && sender.sendable()) || this.linkErrors.length > 0,
        60_000,
        'credit to send',
      )
      if (this.linkErrors.length > 0) throw new Error(`the CI link failed: ${this.linkErrors.join('; ')}`)
    }
    const full = { message_id: randomUUID(), ...message } as Message
    let resolveOutcome: (o: Outcome) => void = () => {}
    const outcome = new Promise<Outcome>((resolve) => {
      resolveOutcome = resolve
    })
    const delivery = sender.send(full)
    this.#unsettled.set(delivery, resolveOutcome)
    return { messageId: String(full.message_id), outcome }
  }

  /** Sends a JSON body with reply_to and waits for its (first) RESULT. */
  async request(address: string, body: unknown, timeoutMs = 10_000): Promise<Result> {
    const { messageId } = await this.send(address, this.json(body))
    await this.waitUntil(() => this.results.has(messageId), timeoutMs, `RESULT of ${messageId}`)
    return (this.results.get(messageId) as Result[])[0] as Result
  }

  /** A JSON body in a data section, with reply_to to this peer. */
  json(body: unknown, reply = true): Omit<Message, 'message_id'> {
    return {
      body: rhea.message.data_section(Buffer.from(JSON.stringify(body))),
      content_type: 'application/json',
      ...(reply ? { reply_to: this.replyTo } : {}),
      ...(typeof (body as { type?: unknown })?.type === 'string'
        ? { subject: (body as { type: string }).type }
        : {}),
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000)
      this.connection.once('connection_close', () => {
        clearTimeout(t)
        resolve()
      })
      this.connection.close()
    })
  }
}
