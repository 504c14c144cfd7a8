import { randomBytes } from 'node:crypto'
import type { Writable } from 'node:stream'
import {
  DEFAULT_ROOM_INFO_LIMIT,
  EVENT_NAME_PATTERN,
  encodeEventFrame,
  MAX_ROOM_NAME_LENGTH,
  RESERVED_EVENTS,
} from '@session-gateway/message-schema'
import type { FastifyBaseLogger } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import { ClientLimits } from './client-limits.js'
import { dispatchFrame } from './dispatch.js'
import { isSendableCloseCode, SessionError } from './errors.js'
import { Heartbeat } from './heartbeat.js'
import type { ResolvedOptions } from './options.js'
import { Rooms } from './rooms.js'
import { type SessionHost, WsSession } from './session.js'
import { Timers } from './timers.js'
import type {
  EventHandler,
  RoomMembersPage,
  Session,
  SessionRegistry,
  UserClaims,
  WsSessionsStats,
} from './types.js'
import { Users } from './users.js'

const EVENT_NAME = new RegExp(EVENT_NAME_PATTERN)
const RESERVED: ReadonlySet<string> = new Set(RESERVED_EVENTS)

/** What the plugin knows about an accepted upgrade. */
export interface Connection {
  socket: WebSocket
  /** The TCP socket under the WebSocket, when known: replies to one read go out in one write. */
  transport?: Writable | undefined
  log: FastifyBaseLogger
  remoteAddress: string
  userAgent: string | undefined
  origin: string | undefined
  user: UserClaims | undefined
  userId: string | undefined
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1
}

export class Registry implements SessionRegistry, SessionHost {
  readonly options: ResolvedOptions
  readonly rooms = new Rooms()
  readonly users = new Users()
  readonly timers = new Timers()
  readonly clientLimits: ClientLimits
  readonly #sessions = new Map<string, WsSession>()
  /** Sessions whose `onConnect` runs: settles when it has (never rejects). */
  readonly #connecting = new WeakMap<WsSession, Promise<void>>()
  /** Sessions whose `onDisconnect` has not finished yet (open ones included): a count, not a promise each. */
  #unfinished = 0
  #allFinished: Array<() => void> = []
  readonly #handlers = new Map<string, EventHandler>()
  readonly #heartbeat: Heartbeat
  readonly #stats: WsSessionsStats = {
    sessionsOpened: 0,
    sessionsClosed: 0,
    framesIn: 0,
    framesOut: 0,
    errorsByCode: {},
    rejectedUpgrades: {},
    closeCodes: {},
  }
  #closing = false

  constructor(options: ResolvedOptions) {
    this.options = options
    this.clientLimits = new ClientLimits(options)
    this.#heartbeat = new Heartbeat(this.timers, options.heartbeatIntervalMs, () => this.#sessions.values())
  }

  // ---- lookup ----

  get size(): number {
    return this.#sessions.size
  }

  get(sid: string): Session | undefined {
    return this.#sessions.get(sid)
  }

  has(sid: string): boolean {
    return this.#sessions.has(sid)
  }

  values(): IterableIterator<Session> {
    return this.#sessions.values()
  }

  [Symbol.iterator](): IterableIterator<Session> {
    return this.#sessions.values()
  }

  get stats(): Readonly<WsSessionsStats> {
    return this.#stats
  }

  get closing(): boolean {
    return this.#closing
  }

  get activeTimers(): number {
    return this.timers.size
  }

  get clientKeys(): number {
    return this.clientLimits.size
  }

  sessionsOfClient(key: string): number {
    return this.clientLimits.sessionsOf(key)
  }

  // ---- sending and closing ----

  send(sid: string, event: string, data?: unknown): boolean {
    return this.#sessions.get(sid)?.send(event, data) ?? false
  }

  close(sid: string, code?: number, reason?: string): boolean {
    const session = this.#sessions.get(sid)
    if (!session) return false
    session.close(code, reason)
    return true
  }

  emitToRoom(room: string, event: string, data?: unknown, exceptSid?: string): number {
    const members = this.rooms.membersView(room)
    if (members.size === 0) return 0
    const text = encodeEventFrame(event, data)
    let delivered = 0
    // Copy first: a send may close a slow session, which must not disturb the iteration.
    for (const sid of [...members]) {
      if (sid !== exceptSid && this.#sessions.get(sid)?.sendRaw(text)) delivered++
    }
    return delivered
  }

  broadcast(event: string, data?: unknown): number {
    if (this.#sessions.size === 0) return 0
    const text = encodeEventFrame(event, data)
    let delivered = 0
    for (const session of [...this.#sessions.values()]) {
      if (session.sendRaw(text)) delivered++
    }
    return delivered
  }

  // ---- events ----

  handle(event: string, handler: EventHandler): void {
    if (typeof event !== 'string' || !EVENT_NAME.test(event)) {
      throw new TypeError(`fastify-ws-sessions: event name must be 1-64 characters of [A-Za-z0-9_.:-]`)
    }
    if (RESERVED.has(event)) throw new Error(`fastify-ws-sessions: event "${event}" is reserved`)
    if (typeof handler !== 'function') {
      throw new TypeError(`fastify-ws-sessions: handler of event "${event}" must be a function`)
    }
    if (this.#handlers.has(event)) {
      throw new Error(`fastify-ws-sessions: event "${event}" already has a handler`)
    }
    this.#handlers.set(event, handler)
  }

  handlerFor(event: string): EventHandler | undefined {
    return this.#handlers.get(event) ?? this.options.onEvent
  }

  // ---- rooms ----

  join(sid: string, room: string): void {
    if (typeof room !== 'string' || room.length === 0 || room.length > MAX_ROOM_NAME_LENGTH) {
      throw new SessionError('INVALID', `room name must be a string of 1-${MAX_ROOM_NAME_LENGTH} characters`)
    }
    if (!this.#sessions.has(sid))
      throw new SessionError('SESSION_NOT_FOUND', `no session "${sid}" on this node`)
    if (this.rooms.has(sid, room)) return
    const max = this.options.maxRoomsPerSession
    if (this.rooms.countOf(sid) >= max) {
      throw new SessionError('LIMIT', `too many rooms: a session may be in at most ${max}`)
    }
    this.rooms.join(sid, room)
  }

  leave(sid: string, room: string): void {
    if (!this.#sessions.has(sid))
      throw new SessionError('SESSION_NOT_FOUND', `no session "${sid}" on this node`)
    this.rooms.leave(sid, room)
  }

  members(room: string): ReadonlySet<string> {
    return new Set(this.rooms.membersView(room))
  }

  roomsOf(sid: string): ReadonlySet<string> {
    return new Set(this.rooms.roomsView(sid))
  }

  get roomCount(): number {
    return this.rooms.size
  }

  roomMembers(room: string, page: { offset?: number; limit?: number } = {}): RoomMembersPage {
    const offset = page.offset ?? 0
    const limit = page.limit ?? DEFAULT_ROOM_INFO_LIMIT
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(limit) || limit < 0) {
      throw new RangeError('fastify-ws-sessions: roomMembers needs a whole offset >= 0 and limit >= 0')
    }
    const sids = this.rooms.membersView(room)
    const members: Session[] = []
    if (limit > 0 && offset < sids.size) {
      let i = 0
      for (const sid of sids) {
        if (i++ < offset) continue
        const session = this.#sessions.get(sid)
        if (session) members.push(session)
        if (members.length === limit) break
      }
    }
    return { count: sids.size, members }
  }

  // ---- users ----

  get userCount(): number {
    return this.users.size
  }

  userSessions(user: string): Session[] {
    const sessions: Session[] = []
    for (const sid of this.users.sidsView(user)) {
      const session = this.#sessions.get(sid)
      if (session) sessions.push(session)
    }
    return sessions
  }

  emitToUser(user: string, event: string, data?: unknown): number {
    const sids = this.users.sidsView(user)
    if (sids.size === 0) return 0
    const text = encodeEventFrame(event, data)
    let delivered = 0
    // Copy first: a send may close a slow session, which must not disturb the iteration.
    for (const sid of [...sids]) {
      if (this.#sessions.get(sid)?.sendRaw(text)) delivered++
    }
    return delivered
  }

  disconnectUser(user: string, code = 1000, reason = ''): number {
    if (!isSendableCloseCode(code)) throw new RangeError(`invalid WebSocket close code ${String(code)}`)
    let closed = 0
    for (const session of this.userSessions(user)) {
      if (!session.isOpen) continue
      session.close(code, reason)
      closed++
    }
    return closed
  }

  // ---- SessionHost ----

  frameIn(): void {
    this.#stats.framesIn++
  }

  frameOut(): void {
    this.#stats.framesOut++
  }

  countError(code: string): void {
    increment(this.#stats.errorsByCode, code)
  }

  countRejectedUpgrade(code: string): void {
    increment(this.#stats.rejectedUpgrades, code)
  }

  dispatch(session: WsSession, data: RawData, isBinary: boolean): void {
    dispatchFrame(this, session, data, isBinary)
  }

  closed(session: WsSession, code: number, reason: string): void {
    if (this.#sessions.get(session.sid) !== session) return
    this.#sessions.delete(session.sid)
    this.rooms.removeSession(session.sid)
    if (session.userId !== undefined) this.users.remove(session.userId, session.sid)
    this.#stats.sessionsClosed++
    increment(this.#stats.closeCodes, String(code))
    this.#heartbeat.update(this.#sessions.size)
    session.baseLog.info({ sid: session.sid, code, reason }, 'session closed')
    const connecting = this.#connecting.get(session)
    this.#connecting.delete(session)
    const { onDisconnect } = this.options
    void (async () => {
      try {
        await connecting
        if (onDisconnect) await onDisconnect(session, code, reason)
      } catch (err) {
        session.log.error({ err }, 'onDisconnect hook failed')
      } finally {
        this.#finishOne()
      }
    })()
  }

  #finishOne(): void {
    this.#unfinished--
    if (this.#unfinished > 0) return
    const waiters = this.#allFinished
    this.#allFinished = []
    for (const wake of waiters) wake()
  }

  // ---- lifecycle ----

  #newSid(): string {
    for (;;) {
      const sid = randomBytes(16).toString('base64url')
      if (!this.#sessions.has(sid)) return sid
    }
  }

  /** Turns an accepted socket into a session and runs `onConnect`. */
  open(connection: Connection): WsSession {
    const sid = this.#newSid()
    const session = new WsSession({
      sid,
      socket: connection.socket,
      transport: connection.transport,
      log: connection.log,
      remoteAddress: connection.remoteAddress,
      userAgent: connection.userAgent,
      origin: connection.origin,
      user: connection.user,
      userId: connection.userId,
      host: this,
    })
    this.#unfinished++
    this.#sessions.set(sid, session)
    if (session.userId !== undefined) this.users.add(session.userId, sid)
    this.#stats.sessionsOpened++
    this.#heartbeat.update(this.#sessions.size)
    connection.log.info({ sid, remoteAddress: session.remoteAddress }, 'session opened')

    const { onConnect } = this.options
    if (onConnect) {
      session.holdFrames()
      const connecting = (async () => onConnect(session))().then(
        () => {
          this.#connecting.delete(session)
          session.ready()
        },
        (err: unknown) => {
          this.#connecting.delete(session)
          this.#reject(session, err)
        },
      )
      this.#connecting.set(session, connecting)
    }
    return session
  }

  #reject(session: WsSession, err: unknown): void {
    if (err instanceof SessionError) {
      session.log.info({ code: err.code, message: err.message }, 'onConnect rejected the session')
      session.close(err.closeCode ?? 1011, err.message)
    } else {
      session.log.error({ err }, 'onConnect failed: closing the session')
      session.close(1011, 'internal error')
    }
  }

  /** Shutdown: refuse new sessions, close every session with 1001, wait for every disconnect hook. */
  async shutdown(): Promise<void> {
    this.#closing = true
    for (const session of [...this.#sessions.values()]) session.close(1001, 'server shutting down')
    while (this.#unfinished > 0) await new Promise<void>((resolve) => this.#allFinished.push(resolve))
  }

  /** Clears whatever is left (nothing, after a clean shutdown). */
  dispose(): void {
    this.#heartbeat.stop()
    this.timers.clearAll()
    this.clientLimits.clear()
  }
}
