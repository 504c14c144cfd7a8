import type { Writable } from 'node:stream'
import { encodeEventFrame } from '@session-gateway/message-schema'
import type { FastifyBaseLogger } from 'fastify'
import { type RawData, WebSocket } from 'ws'
import { isSendableCloseCode } from './errors.js'
import type { ResolvedOptions } from './options.js'
import { TokenBucket } from './rate-limit.js'
import type { Rooms } from './rooms.js'
import type { Timers } from './timers.js'
import type { Session, UserClaims } from './types.js'

/** What a session needs from the registry that owns it. */
export interface SessionHost {
  readonly options: ResolvedOptions
  readonly rooms: Rooms
  readonly timers: Timers
  frameIn(): void
  frameOut(): void
  countError(code: string): void
  dispatch(session: WsSession, data: RawData, isBinary: boolean): void
  /** Called exactly once, when the socket has closed. */
  closed(session: WsSession, code: number, reason: string): void
}

export interface SessionInit {
  sid: string
  socket: WebSocket
  transport?: Writable | undefined
  /** The connection's logger (the session adds `sid` itself). */
  log: FastifyBaseLogger
  remoteAddress: string
  userAgent: string | undefined
  origin: string | undefined
  user: UserClaims | undefined
  userId: string | undefined
  host: SessionHost
}

interface CloseIntent {
  code: number
  reason: string
}

/** A WebSocket close reason holds at most 123 bytes of UTF-8. */
const MAX_REASON_BYTES = 123

export function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_REASON_BYTES) return reason
  let out = ''
  let bytes = 0
  for (const ch of reason) {
    const n = Buffer.byteLength(ch)
    if (bytes + n > MAX_REASON_BYTES) break
    out += ch
    bytes += n
  }
  return out
}

/** Close code the `ws` library sends when it refuses a frame itself. */
function closeIntentForWsError(err: Error & { code?: unknown }): CloseIntent | undefined {
  if (typeof err.code !== 'string' || !err.code.startsWith('WS_ERR_')) return undefined
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return { code: 1009, reason: 'message too big' }
  if (err.code === 'WS_ERR_INVALID_UTF8') return { code: 1007, reason: 'invalid UTF-8' }
  return { code: 1002, reason: 'protocol error' }
}

export class WsSession implements Session {
  readonly sid: string
  readonly connectedAt = Date.now()
  readonly remoteAddress: string
  readonly userAgent: string | undefined
  readonly origin: string | undefined
  readonly user: UserClaims | undefined
  readonly userId: string | undefined
  /** The connection's logger; the session's own child (with `sid`) is made on first use of `log`. */
  readonly baseLog: FastifyBaseLogger
  #log: FastifyBaseLogger | undefined

  // Frame-policy state, used by the dispatcher.
  badFrames = 0
  violations = 0
  readonly bucket: TokenBucket | undefined

  readonly #socket: WebSocket
  readonly #transport: Writable | undefined
  #corked = false
  readonly #host: SessionHost
  #closeIntent: CloseIntent | undefined
  #closeTimer: ReturnType<typeof setTimeout> | undefined
  #pongPending = false
  /** Frames received while `onConnect` runs; undefined once the session is ready. */
  #held: Array<[RawData, boolean]> | undefined
  #ended = false

  constructor(init: SessionInit) {
    this.sid = init.sid
    this.remoteAddress = init.remoteAddress
    this.userAgent = init.userAgent
    this.origin = init.origin
    this.user = init.user
    this.userId = init.userId
    this.baseLog = init.log
    this.#socket = init.socket
    this.#transport = init.transport
    this.#host = init.host
    const { rateLimit } = init.host.options
    this.bucket = rateLimit ? new TokenBucket(rateLimit.ratePerSec, rateLimit.burst) : undefined

    const socket = init.socket
    socket.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary))
    socket.on('pong', () => {
      this.#pongPending = false
    })
    socket.on('error', (err: Error) => this.#onError(err))
    socket.once('close', (code: number, reason: Buffer) => this.#onClose(code, reason))
  }

  /** Made on first use: most sessions never log a line of their own, and a child logger costs memory. */
  get log(): FastifyBaseLogger {
    this.#log ??= this.baseLog.child({ sid: this.sid })
    return this.#log
  }

  get rooms(): ReadonlySet<string> {
    return new Set(this.#host.rooms.roomsView(this.sid))
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount
  }

  get isOpen(): boolean {
    return this.#closeIntent === undefined && this.#socket.readyState === WebSocket.OPEN
  }

  send(event: string, data?: unknown): boolean {
    if (!this.isOpen) return false
    return this.sendRaw(encodeEventFrame(event, data))
  }

  sendRaw(text: string): boolean {
    if (!this.isOpen) return false
    this.#socket.send(text)
    this.#host.frameOut()
    const buffered = this.#socket.bufferedAmount
    if (buffered > this.#host.options.maxBufferedBytes) {
      this.log.warn({ bufferedAmount: buffered }, 'slow consumer: send buffer above its bound, closing')
      this.close(1013, 'slow consumer')
      return false
    }
    return true
  }

  close(code = 1000, reason = ''): void {
    if (!isSendableCloseCode(code)) throw new RangeError(`invalid WebSocket close code ${String(code)}`)
    if (!this.isOpen) return
    const intent = { code, reason: truncateReason(String(reason)) }
    this.#closeIntent = intent
    this.#releaseHeld(false)
    this.#socket.close(intent.code, intent.reason)
    this.#armCloseTimer()
  }

  /** Frames are held (and the socket paused) until {@link ready}. */
  holdFrames(): void {
    this.#held = []
    this.#socket.pause()
  }

  /** Handles the held frames in order, then reads on. */
  ready(): void {
    this.#releaseHeld(true)
  }

  /** Heartbeat tick: terminates when the last ping got no pong, else pings. */
  heartbeat(): void {
    if (!this.isOpen || this.#held !== undefined) return
    if (this.#pongPending) {
      this.log.info('no pong since the last ping: terminating')
      this.#closeIntent = { code: 1006, reason: 'heartbeat timeout' }
      this.#socket.terminate()
      return
    }
    this.#pongPending = true
    this.#socket.ping()
  }

  #releaseHeld(handle: boolean): void {
    const held = this.#held
    if (held === undefined) return
    this.#held = undefined
    if (handle) {
      for (const [data, isBinary] of held) {
        if (!this.isOpen) break
        this.#host.dispatch(this, data, isBinary)
      }
    }
    this.#socket.resume()
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#ended) return
    this.#closeTimer = this.#host.timers.timeout(() => {
      this.#closeTimer = undefined
      this.log.debug('no close frame from the client in time: terminating')
      this.#socket.terminate()
    }, this.#host.options.closeTimeoutMs)
  }

  /**
   * Holds this session's writes until the end of the current tick: the replies to every frame of one
   * read (a client with several requests in flight) leave in one write, one system call, instead of
   * one each. Nothing waits longer than the tick that wrote it.
   */
  #batchWrites(): void {
    const transport = this.#transport
    if (this.#corked || transport === undefined || transport.destroyed) return
    this.#corked = true
    transport.cork()
    process.nextTick(() => {
      this.#corked = false
      transport.uncork()
    })
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (!this.isOpen) return
    this.#batchWrites()
    this.#host.frameIn()
    if (this.#held !== undefined) this.#held.push([data, isBinary])
    else this.#host.dispatch(this, data, isBinary)
  }

  #onError(err: Error): void {
    const intent = closeIntentForWsError(err)
    if (intent && this.#closeIntent === undefined) {
      this.#closeIntent = intent
      if (intent.code === 1009) this.#host.countError('PAYLOAD_TOO_LARGE')
      this.#armCloseTimer()
      this.log.info({ code: intent.code, err: err.message }, 'frame refused by the WebSocket layer')
    } else {
      this.log.debug({ err }, 'socket error')
    }
  }

  #onClose(code: number, reason: Buffer): void {
    this.#ended = true
    this.#held = undefined
    this.#host.timers.clear(this.#closeTimer)
    this.#closeTimer = undefined
    const final = this.#closeIntent ?? { code, reason: reason.toString('utf8') }
    this.#closeIntent = final
    this.#host.closed(this, final.code, final.reason)
  }
}
