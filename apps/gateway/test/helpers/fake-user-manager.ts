import { randomUUID } from 'node:crypto'
import {
  type AmqpDecodeResult,
  decodeResult,
  decodeUmMessage,
  type Result,
  type UmMessage,
} from '@session-gateway/message-schema'
import rhea, { type Connection, type Delivery, type Receiver, type Sender } from 'rhea'

export const BROKER = {
  host: '127.0.0.1',
  port: Number(process.env.AMQP_TEST_PORT ?? 5672),
  username: 'guest',
  password: 'guest',
}
export const BROKER_URL = `amqp://guest:guest@${BROKER.host}:${BROKER.port}`

export interface ReceivedUm {
  body: UmMessage
  replyTo: string | undefined
  messageId: string | undefined
  durable: boolean | undefined
  /** The message header's ttl (ms), when set. */
  ttl: number | undefined
  contentType: string | undefined
  subject: string | undefined
}

function bodyOf(message: rhea.Message): unknown {
  const b = message.body as { typecode?: number; content?: Buffer } | Buffer | string | object
  if (Buffer.isBuffer(b)) return b
  if (b && typeof b === 'object' && 'typecode' in b && b.typecode === 0x75) return b.content
  return b
}

/**
 * A User Manager and Communication Interface played by a bare rhea client, independent of the bridge:
 * it consumes the UM queue, records every message, sends CI messages and waits for RESULTs.
 */
export class FakeUserManager {
  readonly received: ReceivedUm[] = []
  readonly results = new Map<string, Result[]>()
  #waiters: Array<() => void> = []
  #senders = new Map<string, Sender>()
  /** The sends waiting for their outcome. */
  readonly #outcomes = new Map<Delivery, { resolve: () => void; reject: (err: Error) => void }>()
  readonly replyQueue = `test-results-${randomUUID()}`

  private constructor(
    readonly connection: Connection,
    readonly umAddress: string,
    readonly umReceiver: Receiver,
  ) {}

  static async start(umAddress: string): Promise<FakeUserManager> {
    const container = rhea.create_container({ id: `fake-um-${randomUUID()}` })
    const connection = container.connect({ ...BROKER, reconnect: false })
    await new Promise<void>((resolve, reject) => {
      connection.once('connection_open', () => resolve())
      connection.once('connection_error', reject)
      connection.once('disconnected', (ctx) => reject(ctx.error ?? new Error('disconnected')))
    })
    connection.on('disconnected', () => {})
    const receiver = connection.open_receiver({
      source: { address: umAddress, durable: 2 },
      autoaccept: false,
      credit_window: 500,
    })
    const um = new FakeUserManager(connection, umAddress, receiver)
    receiver.on('message', (ctx) => {
      const decoded = decodeUmMessage(bodyOf(ctx.message))
      if (decoded.ok) {
        um.received.push({
          body: decoded.message,
          replyTo: ctx.message.reply_to,
          messageId: ctx.message.message_id === undefined ? undefined : String(ctx.message.message_id),
          durable: ctx.message.durable,
          ttl: ctx.message.ttl,
          contentType: ctx.message.content_type,
          subject: ctx.message.subject,
        })
      }
      ;(ctx.delivery as Delivery).accept()
      um.#wake()
    })
    const results = connection.open_receiver({
      source: { address: `/queue/${um.replyQueue}` },
      credit_window: 500,
    })
    results.on('message', (ctx) => {
      const decoded: AmqpDecodeResult<Result> = decodeResult(bodyOf(ctx.message))
      const correlation = ctx.message.correlation_id
      if (decoded.ok && correlation !== undefined) {
        const key = String(correlation)
        um.results.set(key, [...(um.results.get(key) ?? []), decoded.message])
      }
      um.#wake()
    })
    await Promise.all([
      new Promise((resolve) => receiver.once('receiver_open', resolve)),
      new Promise((resolve) => results.once('receiver_open', resolve)),
    ])
    return um
  }

  #wake() {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }

  #waitUntil<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = find()
        if (found !== undefined) {
          clearTimeout(timer)
          resolve(found)
        } else this.#waiters.push(check)
      }
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs)
      check()
    })
  }

  /** The first received UM message matching `predicate`. */
  waitFor(predicate: (m: ReceivedUm) => boolean, timeoutMs = 5000, what = 'UM message'): Promise<ReceivedUm> {
    return this.#waitUntil(() => this.received.find(predicate), timeoutMs, what)
  }

  /** Waits until `count` messages match, then returns them. */
  async waitForCount(
    predicate: (m: ReceivedUm) => boolean,
    count: number,
    timeoutMs = 5000,
  ): Promise<ReceivedUm[]> {
    return this.#waitUntil(
      () => {
        const all = this.received.filter(predicate)
        return all.length >= count ? all : undefined
      },
      timeoutMs,
      `${count} UM messages`,
    )
  }

  #sender(address: string): Promise<Sender> {
    const existing = this.#senders.get(address)
    if (existing) return Promise.resolve(existing)
    const sender = this.connection.open_sender({ target: { address } })
    this.#senders.set(address, sender)
    // One listener per outcome for all sends (a listener per send is quadratic with 1000 in flight).
    const settle = (accepted: boolean) => (ctx: rhea.EventContext) => {
      const waiter = ctx.delivery && this.#outcomes.get(ctx.delivery)
      if (!waiter || !ctx.delivery) return
      this.#outcomes.delete(ctx.delivery)
      if (accepted) waiter.resolve()
      else waiter.reject(new Error('not accepted'))
    }
    sender.on('accepted', settle(true))
    sender.on('rejected', settle(false))
    sender.on('released', settle(false))
    sender.on('modified', settle(false))
    return new Promise((resolve) => sender.once('sendable', () => resolve(sender)))
  }

  /** Sends a body (object as JSON data section, or raw) to `address`; resolves with its message_id once accepted. */
  async send(
    address: string,
    body: unknown,
    options: { reply?: boolean; raw?: boolean; messageId?: string } = {},
  ): Promise<string> {
    const sender = await this.#sender(address)
    const messageId = options.messageId ?? randomUUID()
    const message: rhea.Message = {
      message_id: messageId,
      content_type: 'application/json',
      body: options.raw ? body : rhea.message.data_section(Buffer.from(JSON.stringify(body))),
      ...(options.reply ? { reply_to: `/amq/queue/${this.replyQueue}` } : {}),
      ...(typeof (body as { type?: unknown })?.type === 'string'
        ? { subject: (body as { type: string }).type }
        : {}),
    }
    const delivery = sender.send(message)
    await new Promise<void>((resolve, reject) => this.#outcomes.set(delivery, { resolve, reject }))
    return messageId
  }

  /** Sends a CI message with reply_to and waits for its RESULT. */
  async request(address: string, body: unknown, timeoutMs = 5000): Promise<Result> {
    const id = await this.send(address, body, { reply: true })
    return this.#waitUntil(
      () => this.results.get(id)?.[0],
      timeoutMs,
      `RESULT for ${(body as { type?: string }).type}`,
    )
  }

  /** Waits until `count` RESULTs arrived for one message id (a broadcast answered by several nodes). */
  waitResults(messageId: string, count: number, timeoutMs = 5000): Promise<Result[]> {
    return this.#waitUntil(
      () => {
        const all = this.results.get(messageId) ?? []
        return all.length >= count ? all : undefined
      },
      timeoutMs,
      `${count} RESULTs`,
    )
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.connection.once('connection_close', () => resolve())
      this.connection.once('disconnected', () => resolve())
      this.connection.close()
    })
  }
}
