import type { ClientFrame } from '@session-gateway/message-schema'
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js'
import { classifyFrame, type Incoming } from './frames.js'
import type { SocketFactory, SocketHandle } from './socket.js'

export interface CloseInfo {
  code: number
  reason: string
  wasClean: boolean
}

export type ConnectionState =
  | { status: 'idle' }
  | { status: 'connecting'; attempt: number }
  | { status: 'open' }
  | { status: 'reconnecting'; attempt: number; delayMs: number; retryAt: number; lastClose: CloseInfo }
  | { status: 'closed'; lastClose?: CloseInfo }

export interface AckError {
  /** A gateway error code, or one of the page's own: NOT_CONNECTED, TIMEOUT, CLOSED. */
  code: string
  message: string
}

/** The outcome of one request: the gateway's reply, or why none came. */
export type Ack = { id: number; event: string; rttMs: number } & (
  | { ok: true; data?: unknown }
  | { ok: false; error: AckError }
)

export interface ConnectionOptions {
  url: string
  createSocket: SocketFactory
  backoff?: BackoffOptions
  /** How long a request waits for its reply (default 10 s). */
  requestTimeoutMs?: number
  /** A connection that stayed open this long starts the backoff over (default 2 s). */
  stableAfterMs?: number
  now?: () => number
  random?: () => number
  onState?: (state: ConnectionState) => void
  /** Every frame received, classified; a reply comes with the request's outcome when it matched one. */
  onFrame?: (incoming: Incoming, text: string, ack?: Ack) => void
  /** Every frame sent. */
  onSent?: (frame: ClientFrame, text: string) => void
  /** Something the wire contract does not allow, seen by the connection itself. */
  onProtocolWarning?: (message: string) => void
}

interface Pending {
  event: string
  sentAt: number
  timer: ReturnType<typeof setTimeout>
  resolve: (ack: Ack) => void
}

/**
 * One WebSocket to the gateway that comes back by itself: exponential backoff with jitter
 * between attempts, requests with ids matched to their replies, timeouts.
 */
export class GatewayConnection {
  private socket: SocketHandle | undefined
  /** Bumped for every socket, so that a late event of an old socket is ignored. */
  private generation = 0
  private failures = 0
  private openedAt = 0
  private stopped = false
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private nextId = 1
  private readonly pending = new Map<number, Pending>()
  private current: ConnectionState = { status: 'idle' }
  private readonly now: () => number
  private readonly timeoutMs: number
  private readonly stableAfterMs: number

  constructor(private readonly options: ConnectionOptions) {
    this.now = options.now ?? (() => performance.now())
    this.timeoutMs = options.requestTimeoutMs ?? 10_000
    this.stableAfterMs = options.stableAfterMs ?? 2000
  }

  get state(): ConnectionState {
    return this.current
  }

  get url(): string {
    return this.options.url
  }

  /** Connects, unless a socket is already open or being opened. */
  start(): void {
    this.stopped = false
    if (this.current.status === 'open' || this.current.status === 'connecting') return
    this.clearRetry()
    this.failures = 0
    this.open()
  }

  /** Closes the socket and stays closed until `start()`. */
  stop(code = 1000, reason = 'closed on the page'): void {
    this.stopped = true
    this.clearRetry()
    if (this.socket) {
      this.socket.close(code, reason)
    } else if (this.current.status !== 'closed') {
      const last = this.current.status === 'reconnecting' ? this.current.lastClose : undefined
      this.setState(last ? { status: 'closed', lastClose: last } : { status: 'closed' })
    }
  }

  /** While waiting to reconnect: try now. */
  retryNow(): void {
    if (this.current.status !== 'reconnecting') return
    this.clearRetry()
    this.open()
  }

  /** Sends `{event, data, id}` and resolves with the reply (never rejects). */
  request(event: string, data?: unknown): Promise<Ack> {
    const id = this.nextId++
    const frame: ClientFrame = data === undefined ? { event, id } : { event, data, id }
    const sentAt = this.now()
    if (!this.transmit(frame)) {
      return Promise.resolve({
        id,
        event,
        rttMs: 0,
        ok: false,
        error: { code: 'NOT_CONNECTED', message: 'not connected to the gateway' },
      })
    }
    return new Promise<Ack>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        resolve({
          id,
          event,
          rttMs: this.now() - sentAt,
          ok: false,
          error: { code: 'TIMEOUT', message: `no reply within ${this.timeoutMs / 1000} s` },
        })
      }, this.timeoutMs)
      this.pending.set(id, { event, sentAt, timer, resolve })
    })
  }

  private transmit(frame: ClientFrame): boolean {
    if (!this.socket || this.current.status !== 'open') return false
    const text = JSON.stringify(frame)
    try {
      this.socket.send(text)
    } catch {
      return false
    }
    this.options.onSent?.(frame, text)
    return true
  }

  private open(): void {
    const generation = ++this.generation
    this.setState({ status: 'connecting', attempt: this.failures + 1 })
    const mine = () => generation === this.generation
    try {
      this.socket = this.options.createSocket(this.options.url, {
        open: () => mine() && this.onOpen(),
        message: (data) => mine() && this.onMessage(data),
        close: (code, reason, wasClean) => mine() && this.onClose({ code, reason, wasClean }),
      })
    } catch (err) {
      this.socket = undefined
      this.onClose({ code: 1006, reason: (err as Error).message, wasClean: false })
    }
  }

  private onOpen(): void {
    this.openedAt = this.now()
    this.setState({ status: 'open' })
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') {
      this.options.onProtocolWarning?.('received a binary frame: the gateway sends text frames only')
      return
    }
    const incoming = classifyFrame(data)
    if (incoming.kind !== 'reply') {
      this.options.onFrame?.(incoming, data)
      return
    }
    const reply = incoming.frame
    const id = reply.id
    const waiting = typeof id === 'number' ? this.pending.get(id) : undefined
    if (!waiting || typeof id !== 'number') {
      this.options.onFrame?.(incoming, data)
      this.options.onProtocolWarning?.(
        `reply with id ${JSON.stringify(id)} matches no waiting request (late, or never sent)`,
      )
      return
    }
    this.pending.delete(id)
    clearTimeout(waiting.timer)
    const rttMs = this.now() - waiting.sentAt
    const ack: Ack = reply.ok
      ? { id, event: waiting.event, rttMs, ok: true, data: reply.data }
      : { id, event: waiting.event, rttMs, ok: false, error: reply.error }
    this.options.onFrame?.(incoming, data, ack)
    waiting.resolve(ack)
  }

  private onClose(close: CloseInfo): void {
    const wasOpen = this.current.status === 'open'
    this.socket = undefined
    this.generation++
    this.failPending(close)
    if (this.stopped) {
      this.setState({ status: 'closed', lastClose: close })
      return
    }
    if (wasOpen && this.now() - this.openedAt >= this.stableAfterMs) this.failures = 0
    const delayMs = backoffDelay(this.failures, this.options.backoff ?? DEFAULT_BACKOFF, this.options.random)
    this.failures++
    this.setState({
      status: 'reconnecting',
      attempt: this.failures,
      delayMs,
      retryAt: Date.now() + delayMs,
      lastClose: close,
    })
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.open()
    }, delayMs)
  }

  private failPending(close: CloseInfo): void {
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer)
      waiting.resolve({
        id,
        event: waiting.event,
        rttMs: this.now() - waiting.sentAt,
        ok: false,
        error: {
          code: 'CLOSED',
          message: `the connection closed (code ${close.code}) before the reply came`,
        },
      })
    }
    this.pending.clear()
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
  }

  private setState(state: ConnectionState): void {
    this.current = state
    this.options.onState?.(state)
  }
}
