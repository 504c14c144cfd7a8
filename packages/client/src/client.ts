import { APP_CLOSE_CODE_MAX, APP_CLOSE_CODE_MIN, type ClientFrame } from '@session-gateway/message-schema'
import { reconnectDelay } from './backoff.js'
import { LocalErrorCode } from './errors.js'
import { type ParsedFrame, parseFrame } from './frames.js'
import { Listeners } from './listeners.js'
import { type ClientOptions, MAX_TIMER_MS, type ResolvedOptions, resolveOptions } from './options.js'
import { PendingRequests } from './requests.js'
import { OPEN, type WebSocketLike } from './socket.js'
import type {
  ClientObservations,
  ClientState,
  CloseInfo,
  EventHandler,
  RequestOptions,
  ResetReason,
  ServerEvent,
  SessionInfo,
} from './types.js'
import { attemptUrl, checkGatewayUrl } from './url.js'

/** Every server event, whatever its name (for `on`). */
export const ANY_EVENT = '*'

/** Closes from the gateway (or its backend) after which the client does not reconnect. */
export function isFinalClose(code: number): boolean {
  return code === 1000 || code === 1008 || (code >= APP_CLOSE_CODE_MIN && code <= APP_CLOSE_CODE_MAX)
}

interface Attempt {
  socket: WebSocketLike | undefined
  /** The resume this attempt asked for, if any. */
  resumed: boolean
  /** The session of this connection is known (from its `session` frame or `GET_SID`). */
  established: boolean
  /** `drop()` closed it: reconnect whatever the code. */
  dropped: boolean
  timer: unknown
  /** The id of this connection's `GET_SID`. */
  sidRequest?: number
}

/** The frame's text; a TypeError naming the event when its data is not JSON (a cycle, a BigInt). */
function encode(frame: ClientFrame): string {
  try {
    return JSON.stringify(frame)
  } catch (err) {
    throw new TypeError(
      `@session-gateway/client: the data of "${frame.event}" is not JSON: ${err instanceof Error ? err.message : String(err)}`,
    )
  }
}

const throwLater = (err: unknown) =>
  queueMicrotask(() => {
    throw err
  })

/**
 * One session with the gateway over a WebSocket that comes back by itself. See the README for
 * the semantics of reconnect and resume.
 */
export class GatewayClient {
  readonly #options: ResolvedOptions
  readonly #requests: PendingRequests
  readonly #events = new Listeners<Record<string, ServerEvent>>(throwLater)
  readonly #observers = new Listeners<ClientObservations>(throwLater)
  #current: ClientState
  #attempt: Attempt | undefined
  #failures = 0
  #retryTimer: unknown
  #openedAt = 0
  #sessionSid: string | undefined
  #resumeToken: string | undefined
  #highestSeq = 0
  #readyWaiters: Array<{ resolve: (s: SessionInfo) => void; reject: (e: Error) => void }> = []
  #lastSession: SessionInfo | undefined

  constructor(
    readonly url: string,
    options: ClientOptions = {},
  ) {
    checkGatewayUrl(url)
    this.#options = resolveOptions(options)
    this.#requests = new PendingRequests(this.#options.clock, (outcome) =>
      this.#observers.emit('settled', outcome),
    )
    this.#current = { status: 'connecting', attempt: 1 }
    this.#open()
  }

  /** The SID of the current session (kept while reconnecting; undefined before the first). */
  get sid(): string | undefined {
    return this.#sessionSid
  }

  get state(): ClientState {
    return this.#current
  }

  /** True when the next connection will try to resume the current session (a token is held, resume on). */
  get resumable(): boolean {
    return this.#options.resume && this.#resumeToken !== undefined
  }

  /** The highest `seq` received in the current session (0 for none, or with resume off). */
  get lastSeq(): number {
    return this.#highestSeq
  }

  /** Resolves with the session once the client has one (at once if it has); rejects if it closes first. */
  ready(): Promise<SessionInfo> {
    if (this.#current.status === 'open' && this.#lastSession) return Promise.resolve(this.#lastSession)
    if (this.#current.status === 'closed') return Promise.reject(this.#closedError())
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }))
  }

  /**
   * Sends `{event, data, id}` and resolves with the reply's `data` once the gateway answered ok
   * (for a forwarded event: the broker accepted it). Rejects with a `GatewayError`: the gateway's
   * code, or `NOT_CONNECTED` (nothing sent), `TIMEOUT`, `CLOSED` (outcome unknown).
   */
  request(event: string, data?: unknown, options: RequestOptions = {}): Promise<unknown> {
    if (this.#current.status !== 'open') {
      return this.#requests.refuse(event, LocalErrorCode.NOT_CONNECTED, 'not connected to the gateway')
    }
    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs
    if (!(timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS)) {
      return Promise.reject(
        new TypeError(`timeoutMs must be a number from 1 to ${MAX_TIMER_MS} (got ${timeoutMs})`),
      )
    }
    return this.#sendRequest(event, data, timeoutMs)
  }

  /** Sends `{event, data}` without an id (no reply). False when there is no open session to send on. */
  emit(event: string, data?: unknown): boolean {
    if (this.#current.status !== 'open') return false
    return this.#transmit(data === undefined ? { event } : { event, data: data as ClientFrame['data'] })
  }

  /** Calls `handler` for each event frame named `event` (or every one, with `'*'`). Returns its removal. */
  on(event: string, handler: EventHandler): () => void {
    return this.#events.add(event, (frame) => handler(frame.data, frame))
  }

  /** Reports what happens to the client itself (state, sessions, resumes, frames). Returns its removal. */
  observe<K extends keyof ClientObservations>(
    name: K,
    handler: (value: ClientObservations[K]) => void,
  ): () => void {
    return this.#observers.add(name, handler)
  }

  /**
   * Closes the connection the way a network drop looks to the gateway, and reconnects (resuming)
   * as after one. The close carries `code` (a client close with 3000-4999 detaches the session,
   * PROTOCOL.md 5.3), since a browser cannot drop a connection without a close frame.
   * False when there was no open connection.
   */
  drop(code = APP_CLOSE_CODE_MIN, reason = 'connection dropped by the client'): boolean {
    if (!Number.isInteger(code) || code < 3000 || code > 4999) {
      throw new RangeError(`drop(code): a code in 3000-4999 (got ${code})`)
    }
    const attempt = this.#attempt
    if (!attempt?.socket || attempt.socket.readyState !== OPEN) return false
    attempt.dropped = true
    attempt.socket.close(code, reason)
    return true
  }

  /** While waiting to reconnect: try now. */
  reconnectNow(): void {
    if (this.#current.status !== 'reconnecting') return
    this.#clearRetry()
    this.#open()
  }

  /**
   * Ends the session (1000 by default: the gateway ends it at once) and stays closed. Requests
   * still waiting fail with `CLOSED`. Resolves when the socket has closed.
   */
  close(code = 1000, reason = ''): Promise<void> {
    if (code !== 1000 && (code < 3000 || code > 4999)) {
      throw new RangeError(`close(code): 1000 or 3000-4999 (got ${code})`)
    }
    if (this.#current.status === 'closed') return Promise.resolve()
    const socket = this.#attempt?.socket
    this.#abandonAttempt()
    this.#clearRetry()
    this.#finish('client', { code, reason })
    if (!socket || socket.readyState === 3) return Promise.resolve()
    return new Promise((resolve) => {
      socket.onclose = () => resolve()
      socket.close(code, reason)
    })
  }

  // ---- one attempt ----

  #open(): void {
    const attempt: Attempt = {
      socket: undefined,
      resumed: false,
      established: false,
      dropped: false,
      timer: undefined,
    }
    this.#attempt = attempt
    this.#setState({ status: 'connecting', attempt: this.#failures + 1 })
    const { clock, connectTimeoutMs } = this.#options
    attempt.timer = clock.setTimeout(() => {
      if (this.#attempt !== attempt) return
      const socket = attempt.socket
      this.#abandonAttempt()
      // A client 4000 detaches rather than ends a session the gateway may have given meanwhile.
      socket?.close(APP_CLOSE_CODE_MIN, 'no session in time')
      this.#afterClose(attempt, { code: 1006, reason: `no session within ${connectTimeoutMs} ms` })
    }, connectTimeoutMs)
    const { token } = this.#options
    if (typeof token !== 'function') {
      this.#startSocket(attempt, token)
      return
    }
    Promise.resolve()
      .then(token)
      .then(
        (value) => {
          if (this.#attempt === attempt) this.#startSocket(attempt, value)
        },
        (err: unknown) => {
          if (this.#attempt !== attempt) return
          this.#warn(`the token function failed: ${err instanceof Error ? err.message : String(err)}`)
          this.#abandonAttempt()
          this.#afterClose(attempt, { code: 1006, reason: 'no token' })
        },
      )
  }

  #startSocket(attempt: Attempt, token: string | undefined): void {
    const resume =
      this.#options.resume && this.#resumeToken !== undefined
        ? { token: this.#resumeToken, lastSeq: this.#highestSeq }
        : undefined
    attempt.resumed = resume !== undefined
    let socket: WebSocketLike
    try {
      socket = new this.#options.WebSocket(attemptUrl(this.url, { token, resume }))
    } catch (err) {
      this.#warn(`cannot open a WebSocket: ${err instanceof Error ? err.message : String(err)}`)
      this.#abandonAttempt()
      this.#afterClose(attempt, { code: 1006, reason: 'cannot open a WebSocket' })
      return
    }
    attempt.socket = socket
    const mine = () => this.#attempt === attempt
    socket.onopen = () => {
      if (mine()) this.#onSocketOpen()
    }
    socket.onmessage = (ev) => {
      if (mine()) this.#onText(ev.data)
    }
    socket.onclose = (ev) => {
      if (!mine()) return
      this.#abandonAttempt()
      this.#afterClose(attempt, { code: ev.code, reason: ev.reason })
    }
    // A close event always follows an error; without a listener `ws` would throw.
    socket.onerror = () => {}
  }

  /** The socket is open: ask for the SID (the gateway's only answer when resume is off). */
  #onSocketOpen(): void {
    const attempt = this.#attempt
    if (!attempt) return
    attempt.sidRequest = this.#requests.peekId()
    // Its outcome is read from the reply frame itself (onFrame), so that the session is set in the
    // same turn as the reply arrives; a timeout or a close is the attempt's own timer's or close's.
    this.#sendRequest('GET_SID', undefined, this.#options.requestTimeoutMs).catch(() => {})
  }

  #onSidReply(attempt: Attempt, data: unknown): void {
    if (attempt.established) return
    const sid = (data as { sid?: unknown } | undefined)?.sid
    if (typeof sid !== 'string' || sid === '') {
      this.#warn('GET_SID replied without data.sid')
      return
    }
    this.#establish(attempt, { sid, token: undefined, resumed: false, replayed: 0 })
  }

  #onText(data: unknown): void {
    if (typeof data !== 'string') {
      this.#warn('received a binary frame: the gateway sends text frames only')
      return
    }
    const frame = parseFrame(data)
    const duplicate = frame.kind === 'event' && frame.seq !== undefined && frame.seq <= this.#highestSeq
    this.#observers.emit('frame', { text: data, duplicate })
    this.#onFrame(frame, duplicate)
  }

  #onFrame(frame: ParsedFrame, duplicate: boolean): void {
    const attempt = this.#attempt
    switch (frame.kind) {
      case 'session':
        if (!attempt || attempt.established) {
          this.#warn('a second session frame on one connection: ignored')
          return
        }
        this.#establish(attempt, {
          sid: frame.session.sid,
          token: frame.session.resumeToken,
          resumed: frame.session.resumed,
          replayed: frame.session.replayed ?? 0,
          reason: frame.session.reason,
        })
        return
      case 'event': {
        if (duplicate) return
        if (frame.seq !== undefined) {
          if (this.#highestSeq > 0 && frame.seq > this.#highestSeq + 1) {
            this.#warn(`seq jumped from ${this.#highestSeq} to ${frame.seq}`)
          }
          this.#highestSeq = frame.seq
        }
        const event: ServerEvent =
          frame.seq === undefined
            ? { event: frame.event, data: frame.data }
            : { event: frame.event, data: frame.data, seq: frame.seq }
        this.#events.emit(frame.event, event)
        this.#events.emit(ANY_EVENT, event)
        return
      }
      case 'reply':
        if (attempt && frame.id === attempt.sidRequest && frame.ok) this.#onSidReply(attempt, frame.data)
        if (!this.#requests.settle(frame.id, frame)) {
          this.#warn(
            `reply with id ${JSON.stringify(frame.id)} matches no waiting request (late, or never sent)`,
          )
        }
        return
      case 'unknown':
        this.#warn(`a frame this client cannot read: ${frame.problem}`)
        return
    }
  }

  #establish(
    attempt: Attempt,
    got: {
      sid: string
      token: string | undefined
      resumed: boolean
      replayed: number
      reason?: ResetReason | undefined
    },
  ): void {
    attempt.established = true
    this.#options.clock.clearTimeout(attempt.timer)
    const previousSid = this.#sessionSid
    const resumed = got.resumed && previousSid === got.sid
    this.#sessionSid = got.sid
    this.#openedAt = this.#options.clock.now()
    const info: SessionInfo = { sid: got.sid, resumed, replayed: resumed ? got.replayed : 0 }
    let reset: ResetReason | undefined
    if (!resumed) {
      this.#highestSeq = 0
      if (previousSid !== undefined) {
        reset = got.reason ?? (attempt.resumed ? 'expired' : 'resume-off')
        info.previousSid = previousSid
        info.reason = reset
      }
    } else {
      info.previousSid = previousSid
    }
    // Without a session frame (resume off on the gateway) there is no token to resume with.
    this.#resumeToken = got.token
    this.#lastSession = info
    this.#setState({ status: 'open', sid: got.sid })
    for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve(info)
    this.#observers.emit('session', info)
    if (resumed) this.#observers.emit('resumed', { sid: got.sid, replayed: info.replayed })
    else if (reset && previousSid !== undefined) {
      this.#observers.emit('reset', { sid: got.sid, previousSid, reason: reset })
    }
  }

  // ---- after a connection ----

  #afterClose(attempt: Attempt, close: CloseInfo): void {
    this.#requests.failAll(
      LocalErrorCode.CLOSED,
      `the connection closed (code ${close.code}) before the reply came`,
    )
    if (this.#current.status === 'closed') return
    if (!attempt.dropped && isFinalClose(close.code)) {
      this.#finish('server', close)
      return
    }
    const { reconnect, clock, random } = this.#options
    if (attempt.established && clock.now() - this.#openedAt >= (reconnect ? reconnect.stableAfterMs : 0)) {
      this.#failures = 0
    }
    if (!reconnect || this.#failures >= reconnect.maxAttempts) {
      this.#finish('gave-up', close)
      return
    }
    const delayMs = reconnectDelay(this.#failures, reconnect, random)
    this.#failures++
    this.#setState({
      status: 'reconnecting',
      failures: this.#failures,
      delayMs,
      retryAt: clock.now() + delayMs,
      lastClose: close,
    })
    this.#retryTimer = clock.setTimeout(() => {
      this.#retryTimer = undefined
      this.#open()
    }, delayMs)
  }

  #finish(by: 'client' | 'server' | 'gave-up', close: CloseInfo): void {
    this.#requests.failAll(LocalErrorCode.CLOSED, `the client closed (code ${close.code})`)
    this.#setState({ status: 'closed', by, lastClose: close })
    const error = this.#closedError()
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(error)
    this.#observers.emit('closed', { by, code: close.code, reason: close.reason })
  }

  #closedError(): Error {
    const s = this.#current
    const how =
      s.status === 'closed' && s.lastClose ? ` (code ${s.lastClose.code} ${s.lastClose.reason})` : ''
    return new Error(`@session-gateway/client: the client is closed${how}`)
  }

  /** Forgets the current attempt: its socket's later events are ignored. */
  #abandonAttempt(): void {
    const attempt = this.#attempt
    if (!attempt) return
    this.#options.clock.clearTimeout(attempt.timer)
    this.#attempt = undefined
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) this.#options.clock.clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
  }

  // ---- sending ----

  #sendRequest(event: string, data: unknown, timeoutMs: number): Promise<unknown> {
    const socket = this.#openSocket()
    if (!socket)
      return this.#requests.refuse(event, LocalErrorCode.NOT_CONNECTED, 'not connected to the gateway')
    const id = this.#requests.takeId()
    let text: string
    try {
      text = encode(data === undefined ? { event, id } : { event, data: data as ClientFrame['data'], id })
    } catch (err) {
      return Promise.reject(err)
    }
    const reply = this.#requests.wait(id, event, timeoutMs)
    this.#send(socket, text)
    return reply
  }

  #transmit(frame: ClientFrame): boolean {
    const socket = this.#openSocket()
    if (!socket) return false
    this.#send(socket, encode(frame))
    return true
  }

  #openSocket(): WebSocketLike | undefined {
    const socket = this.#attempt?.socket
    return socket && socket.readyState === OPEN ? socket : undefined
  }

  #send(socket: WebSocketLike, text: string): void {
    socket.send(text)
    this.#observers.emit('sent', { text })
  }

  #warn(message: string): void {
    this.#observers.emit('warning', { message })
  }

  #setState(state: ClientState): void {
    this.#current = state
    this.#observers.emit('state', state)
  }
}
