import { EventEmitter } from 'node:events'
import type { Writable } from 'node:stream'
import {
  ClientErrorCode,
  CloseCode,
  encodeEventFrame,
  RESUMED_ELSEWHERE_REASON,
  withSeq,
} from '@session-gateway/message-schema'
import type { FastifyBaseLogger } from 'fastify'
import type { RawData } from 'ws'
import { isSendableCloseCode } from './errors.js'
import type { ResolvedOptions } from './options.js'
import { TokenBucket } from './rate-limit.js'
import type { SessionStream } from './resume/session-stream.js'
import type { Rooms } from './rooms.js'
import {
  type DirectSender,
  directSender,
  encodeTextFrame,
  type SharedFrame,
  senderIdle,
} from './shared-frame.js'
import type { Timers } from './timers.js'
import { type SessionTransport, type TransportOpened, TransportState } from './transport.js'
import type { Delivery, Session, UserClaims } from './types.js'
import type { Corked, WriteBatch } from './write-batch.js'

/** What a session needs from the registry that owns it. */
export interface SessionHost {
  readonly options: ResolvedOptions
  readonly rooms: Rooms
  readonly timers: Timers
  /** Uncorks, once per event-loop turn, the sessions that wrote in it. */
  readonly writeBatch: WriteBatch
  frameIn(): void
  frameOut(): void
  countError(code: string): void
  dispatch(session: WsSession, data: RawData, isBinary: boolean): void
  /**
   * Called once per connection, when its socket has closed. `detachable`: the close leaves the session
   * detached when resume is on (a dropped connection, a client close other than 1000/1001/1005, a
   * missed heartbeat, `detachAll`); false for every close that ends it.
   */
  closed(session: WsSession, code: number, reason: string, detachable: boolean): void
  /** A detached session could not keep a frame (its replay bound): it must end. */
  overflowed(session: WsSession): void
}

/** The socket side of a session: what a (new) connection brings. */
export interface SessionSocket {
  /** A `ws` WebSocket of the plugin's route, or another transport (`attach`). */
  socket: SessionTransport
  transport?: Writable | undefined
}

export interface SessionInit extends SessionSocket {
  sid: string
  /** Default now; a session taken over from another node keeps its own. */
  connectedAt?: number
  /** With resume on: its seq, kept frames and token generation. */
  stream?: SessionStream | undefined
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
  /** The session is detached, not ended, when this close is done (resume on). */
  detach?: boolean
}

/** Client close codes that end a session even with resume on (PROTOCOL.md 4.1). */
const FINAL_CLIENT_CODES: ReadonlySet<number> = new Set([
  CloseCode.NORMAL,
  CloseCode.GOING_AWAY,
  /** No status received: a close frame without a code. */
  1005,
])

/**
 * A ping with no payload (RFC 6455 5.5.2: FIN, opcode 9, length 0, unmasked from a server): the
 * same two bytes for every session, written as they are over a plain `ws` connection.
 */
const PING_FRAME = Buffer.from([0x89, 0x00])

/** Bytes a session holds corked in one turn before it writes them anyway. */
const CORKED_MAX_BYTES = 64 * 1024

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
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
    return { code: CloseCode.MESSAGE_TOO_BIG, reason: 'message too big' }
  if (err.code === 'WS_ERR_INVALID_UTF8') return { code: 1007, reason: 'invalid UTF-8' }
  return { code: 1002, reason: 'protocol error' }
}

/** On a socket that is an EventEmitter: the session listening to it (the shared listeners' way back). */
const kSession = Symbol('fastify-ws-sessions.session')
type TaggedSocket = SessionTransport & { [kSession]?: WsSession | undefined }

export class WsSession implements Session, Corked {
  readonly sid: string
  readonly connectedAt: number
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

  /** With resume on: seq, kept frames, token generation. */
  readonly stream: SessionStream | undefined
  /** The current connection's socket; undefined while detached or once ended. */
  #socket: SessionTransport | undefined
  #transport: Writable | undefined
  /** The socket's `ws` sender when shared frames may be written prebuilt to `#transport` (shared-frame.ts). */
  #direct: DirectSender | undefined
  /** The transport corked for this turn (see #batchWrites), until the write batch uncorks it. */
  #corked: Writable | undefined
  readonly #host: SessionHost
  #closeIntent: CloseIntent | undefined
  #closeTimer: ReturnType<typeof setTimeout> | undefined
  #pongPending = false
  /** The heartbeat's slice this session is pinged in (see `Heartbeat`); -1 while in none. */
  heartbeatSlice = -1
  /**
   * The registry's chain of this session's hooks, run one after another (onConnect first); each link
   * settles, never rejects. A field, not a WeakMap entry per session.
   */
  hooks: Promise<void> | undefined = undefined
  /** Frames received while `onConnect` runs; undefined once the session is ready. */
  #held: Array<[RawData, boolean]> | undefined
  /** The current connection's socket has closed (or there is none). */
  #ended = false
  /** The session itself is over (ended or handed over): nothing is sent or kept any more. */
  #gone = false

  constructor(init: SessionInit) {
    this.sid = init.sid
    this.connectedAt = init.connectedAt ?? Date.now()
    this.remoteAddress = init.remoteAddress
    this.userAgent = init.userAgent
    this.origin = init.origin
    this.user = init.user
    this.userId = init.userId
    this.baseLog = init.log
    this.stream = init.stream
    this.#host = init.host
    const { rateLimit } = init.host.options
    this.bucket = rateLimit ? new TokenBucket(rateLimit.ratePerSec, rateLimit.burst) : undefined
    this.#listen(init)
  }

  /** Puts the session on a new connection (a resume): per-connection state starts afresh. */
  attach(connection: SessionSocket): void {
    // An older connection still open (its client thought it dead) ends here; its close is ignored.
    const old = this.#socket
    if (old && old.readyState !== TransportState.CLOSED) old.close(CloseCode.NORMAL, RESUMED_ELSEWHERE_REASON)
    this.#host.timers.clear(this.#closeTimer)
    this.#closeTimer = undefined
    this.#closeIntent = undefined
    this.#pongPending = false
    this.#held = undefined
    this.#ended = false
    // What the old connection wrote this turn (its close frame) leaves now.
    this.flushWrites()
    this.#listen(connection)
    this.stream?.setLive(true)
  }

  #listen({ socket, transport }: SessionSocket): void {
    this.#socket = socket
    this.#transport = transport
    this.#direct = directSender(socket, transport)
    if (socket instanceof EventEmitter) {
      // An EventEmitter calls a listener with itself as `this`: four listeners shared by every
      // session find theirs on the socket, instead of four closures (and a `once` wrapper) per connection.
      ;(socket as TaggedSocket)[kSession] = this
      socket.on('message', WsSession.#sharedMessage)
      socket.on('pong', WsSession.#sharedPong)
      socket.on('error', WsSession.#sharedError)
      socket.on('close', WsSession.#sharedClose)
      return
    }
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (socket === this.#socket) this.#onMessage(data, isBinary)
    })
    socket.on('pong', () => {
      if (socket === this.#socket) this.#pongPending = false
    })
    socket.on('error', (err: Error) => {
      if (socket === this.#socket) this.#onError(err)
    })
    socket.once('close', (code: number, reason: Buffer) => {
      if (socket === this.#socket) this.#onClose(code, reason)
    })
  }

  // The shared listeners (see #listen): each acts only for the session whose current socket `this` is.
  static readonly #sharedMessage = function (this: TaggedSocket, data: RawData, isBinary: boolean): void {
    const session = this[kSession]
    if (session !== undefined && session.#socket === this) session.#onMessage(data, isBinary)
  }

  static readonly #sharedPong = function (this: TaggedSocket): void {
    const session = this[kSession]
    if (session !== undefined && session.#socket === this) session.#pongPending = false
  }

  static readonly #sharedError = function (this: TaggedSocket, err: Error): void {
    const session = this[kSession]
    if (session !== undefined && session.#socket === this) session.#onError(err)
  }

  /** Once per socket, as `once` would: the tag goes first, so a second `close` finds no session. */
  static readonly #sharedClose = function (this: TaggedSocket, code: number, reason: Buffer): void {
    const session = this[kSession]
    if (session === undefined) return
    this[kSession] = undefined
    if (session.#socket === this) session.#onClose(code, reason)
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
    return this.#socket?.bufferedAmount ?? 0
  }

  get isOpen(): boolean {
    return this.#closeIntent === undefined && this.#socket?.readyState === TransportState.OPEN
  }

  get detached(): boolean {
    return this.stream !== undefined && this.#socket === undefined && !this.#gone
  }

  /** The close this node started to detach the session (a drain's 1012), while it is still under way. */
  get detaching(): { code: number; reason: string } | undefined {
    const intent = this.#closeIntent
    if (intent?.detach !== true || this.#ended || this.#socket === undefined) return undefined
    return { code: intent.code, reason: intent.reason }
  }

  get lastSeq(): number {
    return this.stream ? this.stream.nextSeq - 1 : 0
  }

  /** True when the connection announces the session itself (`opened`) instead of a `session` frame. */
  get announcesItself(): boolean {
    return typeof this.#socket?.opened === 'function'
  }

  /** Tells the connection what it carries (see {@link SessionTransport.opened}). */
  opened(info: TransportOpened): void {
    this.#socket?.opened?.(info)
  }

  send(event: string, data?: unknown): boolean {
    return this.deliver(event, data) === 'delivered'
  }

  sendRaw(text: string): boolean {
    return this.deliverRaw(text) === 'delivered'
  }

  deliver(event: string, data?: unknown): Delivery {
    if (this.#gone || (this.stream === undefined && !this.isOpen)) return 'none'
    return this.deliverRaw(encodeEventFrame(event, data))
  }

  deliverRaw(text: string): Delivery {
    const stream = this.stream
    if (stream === undefined) return this.sendControl(text) ? 'delivered' : 'none'
    // A close that ends the session is under way, or it is over: nothing is numbered any more.
    if (this.#gone || (this.#closeIntent !== undefined && !this.#closeIntent.detach)) return 'none'
    const seq = stream.keep(text)
    if (seq === 0) {
      this.#host.overflowed(this)
      return 'none'
    }
    // Not open (detached, or the connection is going): kept, replayed when the client resumes.
    if (!this.isOpen) return 'kept'
    return this.sendControl(withSeq(text, seq)) ? 'delivered' : 'kept'
  }

  /**
   * {@link deliverRaw} of a frame many sessions get (a broadcast, a room or user event): without
   * resume, written as the prebuilt WebSocket frame when the connection allows it; with resume, each
   * session numbers and keeps its own copy, as `deliverRaw` does.
   */
  deliverShared(frame: SharedFrame): Delivery {
    if (this.stream !== undefined) return this.deliverRaw(frame.text)
    const socket = this.#socket
    if (!this.isOpen || socket === undefined) return 'none'
    this.#batchWrites()
    const raw = this.#rawTransport()
    if (raw !== undefined) raw.write(frame.wire)
    else socket.send(frame.text)
    return this.#sent(socket) ? 'delivered' : 'none'
  }

  /**
   * Sends a frame as it is, without `seq`: replies, error frames, the session frame, replays, and
   * (through deliverRaw) every frame of this session alone, built here in one buffer when it can be
   * written raw (see {@link #rawTransport}).
   */
  sendControl(text: string): boolean {
    const socket = this.#socket
    if (!this.isOpen || socket === undefined) return false
    this.#batchWrites()
    const raw = this.#rawTransport()
    if (raw !== undefined) raw.write(encodeTextFrame(text))
    else socket.send(text)
    return this.#sent(socket)
  }

  /**
   * The TCP socket, when a whole WebSocket frame written to it now leaves where `ws`'s own `send` or
   * `ping` would put it (a plain `ws` connection whose sender is idle: shared-frame.ts); else
   * undefined, and the frame goes through `ws`. Written raw, a frame is one buffer and one chunk,
   * where `ws` copies the payload, allocates a header and writes them as two.
   */
  #rawTransport(): Writable | undefined {
    const direct = this.#direct
    return direct !== undefined && senderIdle(direct) ? (this.#transport as Writable) : undefined
  }

  /** After a frame was written: counted, and the slow-consumer bound checked (false: closing). */
  #sent(socket: SessionTransport): boolean {
    this.#host.frameOut()
    let buffered = socket.bufferedAmount
    // Many frames in one turn (a replay): they go to the kernel now, as they would uncorked, so the
    // slow-consumer bound below sees what the client really did not take.
    if (buffered > CORKED_MAX_BYTES && this.#corked !== undefined) {
      this.#writeNow()
      buffered = socket.bufferedAmount
    }
    if (buffered > this.#host.options.maxBufferedBytes) {
      this.log.warn({ bufferedAmount: buffered }, 'slow consumer: send buffer above its bound, closing')
      this.close(CloseCode.TRY_AGAIN_LATER, 'slow consumer')
      return false
    }
    return true
  }

  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (!isSendableCloseCode(code)) throw new RangeError(`invalid WebSocket close code ${String(code)}`)
    if (this.detached) {
      this.#host.closed(this, code, truncateReason(String(reason)), false)
      return
    }
    this.#closeConnection({ code, reason: truncateReason(String(reason)) })
  }

  /** Closes the connection and leaves the session detached (resume on). */
  detachConnection(code: number, reason: string): void {
    this.#closeConnection({ code, reason: truncateReason(reason), detach: true })
  }

  /**
   * The session is over here (ended, or handed over to another node): its connection, if any, is
   * closed with `code` without telling the host, and nothing is sent or kept any more.
   */
  abandon(code: number, reason: string): void {
    this.#gone = true
    this.stream?.release()
    const socket = this.#socket
    this.#socket = undefined
    this.#releaseHeld(false)
    this.#host.timers.clear(this.#closeTimer)
    this.#closeTimer = undefined
    if (socket && socket.readyState !== TransportState.CLOSED) {
      socket.close(code, truncateReason(reason))
      // ws's own closeTimeout bounds a client that never answers.
    }
  }

  /** The connection is gone and the session waits for its client: no socket, frames kept. */
  markDetached(): void {
    this.#socket = undefined
    this.#transport = undefined
    this.#direct = undefined
    this.stream?.setLive(false)
  }

  #closeConnection(intent: CloseIntent): void {
    const socket = this.#socket
    if (socket === undefined || this.#ended) return
    if (!this.isOpen) {
      // The client's close is under way: this close still decides whether the session ends.
      if (this.#closeIntent === undefined && !intent.detach) this.#closeIntent = intent
      return
    }
    this.#closeIntent = intent
    this.#releaseHeld(false)
    socket.close(intent.code, intent.reason)
    this.#armCloseTimer()
  }

  /** Frames are held (and the socket paused) until {@link ready}. */
  holdFrames(): void {
    this.#held = []
    this.#socket?.pause()
  }

  /** Handles the held frames in order, then reads on. */
  ready(): void {
    this.#releaseHeld(true)
  }

  /** Heartbeat tick: terminates when the last ping got no pong, else pings. */
  heartbeat(): void {
    if (!this.isOpen || this.#held !== undefined) return
    const socket = this.#socket
    if (socket === undefined) return
    if (this.#pongPending) {
      this.log.info('no pong since the last ping: terminating')
      this.#closeIntent = { code: 1006, reason: 'heartbeat timeout', detach: true }
      socket.terminate()
      return
    }
    this.#pongPending = true
    const raw = this.#rawTransport()
    if (raw !== undefined) raw.write(PING_FRAME)
    else socket.ping()
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
    this.#socket?.resume()
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#ended) return
    const socket = this.#socket
    this.#closeTimer = this.#host.timers.timeout(() => {
      this.#closeTimer = undefined
      this.log.debug('no close frame from the client in time: terminating')
      socket?.terminate()
    }, this.#host.options.closeTimeoutMs)
  }

  /**
   * Holds this session's writes until the end of the current event-loop turn (first frame read or
   * first write of the turn): the replies to every frame of one read, and the frames the session gets
   * from one AMQP read (an ok reply and an EMIT), leave in one write, one system call, instead of one
   * each. Nothing waits longer than the turn that wrote it (WriteBatch).
   */
  #batchWrites(): void {
    const transport = this.#transport
    if (this.#corked !== undefined || transport === undefined || transport.destroyed) return
    this.#corked = transport
    transport.cork()
    this.#host.writeBatch.add(this)
  }

  /** What is corked leaves now, the upgrade's own cork included (`WriteBatch.hold`, resume on). */
  #writeNow(): void {
    const transport = this.#corked
    this.flushWrites()
    while (transport !== undefined && transport.writableCorked > 0) transport.uncork()
  }

  /** Called by the write batch at the end of the turn: what this session wrote in it leaves now. */
  flushWrites(): void {
    const transport = this.#corked
    if (transport === undefined) return
    this.#corked = undefined
    transport.uncork()
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
      if (intent.code === CloseCode.MESSAGE_TOO_BIG) this.#host.countError(ClientErrorCode.PAYLOAD_TOO_LARGE)
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
    const intent = this.#closeIntent
    const final = intent ?? { code, reason: reason.toString('utf8') }
    const detachable = intent ? intent.detach === true : !FINAL_CLIENT_CODES.has(code)
    this.#closeIntent = { ...final, detach: detachable }
    this.#host.closed(this, final.code, final.reason, detachable)
  }
}
