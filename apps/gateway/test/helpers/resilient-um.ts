import { randomUUID } from 'node:crypto'
import { decodeUmMessage, type UmMessage } from '@session-gateway/message-schema'
import rhea, { type Connection, type Delivery, type Message } from 'rhea'
import { Waiters } from './waiters.js'

function bodyOf(message: Message): unknown {
  const b = message.body as { typecode?: number; content?: Buffer } | undefined
  if (b && typeof b === 'object' && 'typecode' in b && b.typecode === 0x75) return b.content
  return b
}

/**
 * A User Manager that survives broker restarts: a bare rhea consumer (not the bridge) that opens a
 * new connection and receiver whenever the old one is gone, accepts everything from the UM queue and
 * de-duplicates what it sees: client events by (sid, requestId), every message by message_id.
 */
export class ResilientUserManager {
  /** `${sid} ${requestId}` of every CLIENT_EVENT that had a requestId. */
  readonly events = new Set<string>()
  readonly messageIds = new Set<string>()
  readonly connected = new Map<string, UmMessage>()
  readonly disconnected = new Map<string, UmMessage[]>()
  /** Deliveries by message type (duplicates included). */
  readonly countsByType: Record<string, number> = {}
  /** Called with every decoded message. */
  onMessage: ((m: UmMessage) => void) | undefined
  deliveries = 0
  duplicates = 0
  connections = 0
  #connection: Connection | undefined
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  readonly #waiters = new Waiters()
  readonly #url: string
  /** false: only count (for long runs whose memory is measured). */
  readonly #keep: boolean

  constructor(
    url: string,
    readonly queue: string,
    keep = true,
  ) {
    this.#url = url
    this.#keep = keep
  }

  start(): void {
    this.#connect()
  }

  #connect(): void {
    this.#timer = undefined
    if (this.#stopped) return
    const u = new URL(this.#url)
    const container = rhea.create_container({ id: `resilient-um-${randomUUID()}` })
    container.on('error', () => {})
    const connection = container.connect({
      host: u.hostname,
      port: Number(u.port),
      username: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      reconnect: false,
    })
    this.#connection = connection
    const lost = () => {
      if (this.#connection !== connection) return
      this.#connection = undefined
      try {
        ;(connection as unknown as { socket?: { destroy(): void } }).socket?.destroy()
      } catch {
        // gone
      }
      if (!this.#stopped) {
        this.#timer = setTimeout(() => this.#connect(), 200)
        this.#timer.unref()
      }
    }
    connection.on('disconnected', lost)
    connection.on('connection_close', lost)
    connection.on('connection_error', lost)
    connection.on('error', lost)
    connection.on('connection_open', () => {
      this.connections++
      const session = connection.create_session()
      session.on('session_error', lost)
      session.begin()
      const receiver = session.attach_receiver({
        source: { address: `/queue/${this.queue}`, durable: 2 },
        autoaccept: false,
        credit_window: 1000,
      })
      receiver.on('receiver_error', lost)
      receiver.on('message', (ctx) => {
        const message = ctx.message as Message
        this.deliveries++
        const id = message.message_id === undefined ? undefined : String(message.message_id)
        if (id !== undefined && this.#keep) {
          if (this.messageIds.has(id)) this.duplicates++
          this.messageIds.add(id)
        }
        const decoded = decodeUmMessage(bodyOf(message))
        if (decoded.ok) {
          this.countsByType[decoded.message.type] = (this.countsByType[decoded.message.type] ?? 0) + 1
          if (this.#keep) this.#record(decoded.message)
          this.onMessage?.(decoded.message)
        }
        ;(ctx.delivery as Delivery).accept()
        this.#wake()
      })
    })
  }

  #record(m: UmMessage): void {
    if (m.type === 'CLIENT_EVENT') {
      if (m.requestId !== undefined) this.events.add(`${m.sid} ${String(m.requestId)}`)
    } else if (m.type === 'CLIENT_CONNECTED') {
      this.connected.set(m.sid, m)
    } else if (m.type === 'CLIENT_DISCONNECTED') {
      this.disconnected.set(m.sid, [...(this.disconnected.get(m.sid) ?? []), m])
    }
  }

  #wake(): void {
    this.#waiters.wake()
  }

  /** Resolves once `check()` holds; rejects after `timeoutMs` with `what`. */
  waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.#waiters.until(check, timeoutMs, what)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    const connection = this.#connection
    this.#connection = undefined
    if (!connection) return
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000)
      connection.once('connection_close', () => {
        clearTimeout(t)
        resolve()
      })
      try {
        connection.close()
      } catch {
        clearTimeout(t)
        resolve()
      }
    })
  }
}
