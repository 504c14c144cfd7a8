import { EventEmitter } from 'node:events'
import type { Writable } from 'node:stream'
import {
  CloseCode,
  DEFAULT_ROOM_INFO_LIMIT,
  EVENT_NAME_PATTERN,
  encodeEventFrame,
  MAX_ROOM_NAME_LENGTH,
  RESERVED_EVENTS,
  RESUMED_ELSEWHERE_REASON,
  type ResumeRefusalReason,
} from '@session-gateway/message-schema'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { RawData } from 'ws'
import { type Admission, admission } from './admission.js'
import { ClientLimits } from './client-limits.js'
import { dispatchFrame } from './dispatch.js'
import { isSendableCloseCode, SessionError } from './errors.js'
import { Heartbeat } from './heartbeat.js'
import type { ResolvedOptions } from './options.js'
import type { ResumeAttempt } from './resume/resume-checks.js'
import { Resumer } from './resume/resumer.js'
import type { SessionStream } from './resume/session-stream.js'
import type { HandOverRequest, ResumeRefusal, SessionSnapshot } from './resume/types.js'
import { Rooms } from './rooms.js'
import { type SessionHost, WsSession } from './session.js'
import { SharedFrame } from './shared-frame.js'
import { newSessionId } from './sid.js'
import { Timers } from './timers.js'
import {
  type AttachResult,
  type SessionTransport,
  type TransportConnection,
  TransportState,
} from './transport.js'
import type {
  Delivery,
  EventHandler,
  RoomMembersPage,
  Session,
  SessionRegistry,
  UserClaims,
  WsSessionsStats,
} from './types.js'
import { Users } from './users.js'
import { WriteBatch } from './write-batch.js'

const EVENT_NAME = new RegExp(EVENT_NAME_PATTERN)
const RESERVED: ReadonlySet<string> = new Set(RESERVED_EVENTS)

/** What the plugin knows about an accepted upgrade. */
export interface Connection {
  socket: SessionTransport
  /** The TCP socket under the WebSocket, when known: replies to one read go out in one write. */
  transport?: Writable | undefined
  log: FastifyBaseLogger
  remoteAddress: string
  userAgent: string | undefined
  origin: string | undefined
  user: UserClaims | undefined
  userId: string | undefined
}

/** A socket that is already closed: the stand-in connection of a session adopted with no client. */
function closedSocket(): SessionTransport {
  return Object.assign(new EventEmitter(), {
    readyState: TransportState.CLOSED,
  }) as unknown as SessionTransport
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1
}

export class Registry implements SessionRegistry, SessionHost {
  readonly options: ResolvedOptions
  readonly rooms = new Rooms()
  readonly users = new Users()
  readonly timers = new Timers()
  readonly writeBatch = new WriteBatch()
  readonly clientLimits: ClientLimits
  /** Upgrade attempts per address (`addressConnectRate`), undefined when off. */
  readonly addressLimits: ClientLimits | undefined
  readonly #sessions = new Map<string, WsSession>()
  /** Resume (tokens, replay bounds, windows, moved sessions); undefined when resume is off. */
  readonly #resumer: Resumer | undefined
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
    sessionsDetached: 0,
    sessionsResumed: 0,
    sessionsHandedOver: 0,
    resumeRefused: {},
  }
  #closing = false
  /** A rolling deploy's drain (`drain()`): no new sessions, the old ones detached. */
  #draining = false

  constructor(options: ResolvedOptions) {
    this.options = options
    this.clientLimits = new ClientLimits(options)
    // Bounded like the per-client keys; holds no timer.
    this.addressLimits =
      options.addressConnectRate === false
        ? undefined
        : new ClientLimits({
            maxSessionsPerClient: 0,
            connectRate: options.addressConnectRate,
            maxClientKeys: options.maxClientKeys,
          })
    this.#resumer = options.resume ? new Resumer(options.resume, this.timers) : undefined
    this.#heartbeat = new Heartbeat(this.timers, options.heartbeatIntervalMs)
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
    return this.#closing || this.#draining
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

  deliver(sid: string, event: string, data?: unknown): Delivery {
    return this.#sessions.get(sid)?.deliver(event, data) ?? 'none'
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
    const frame = new SharedFrame(encodeEventFrame(event, data))
    let delivered = 0
    // No copy of the set: a delivery can take only its own session out of the maps (a detached
    // session past its replay bound ends at once), and deleting the current entry of a Set or Map
    // does not disturb its iteration; a slow session's close completes later.
    for (const sid of members) {
      if (sid !== exceptSid && this.#sessions.get(sid)?.deliverShared(frame) === 'delivered') delivered++
    }
    return delivered
  }

  broadcast(event: string, data?: unknown): number {
    if (this.#sessions.size === 0) return 0
    const frame = new SharedFrame(encodeEventFrame(event, data))
    let delivered = 0
    // No copy of the map, for the reason given in emitToRoom.
    for (const session of this.#sessions.values()) {
      if (session.deliverShared(frame) === 'delivered') delivered++
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
    const frame = new SharedFrame(encodeEventFrame(event, data))
    let delivered = 0
    // No copy of the set, for the reason given in emitToRoom.
    for (const sid of sids) {
      if (this.#sessions.get(sid)?.deliverShared(frame) === 'delivered') delivered++
    }
    return delivered
  }

  disconnectUser(user: string, code: number = CloseCode.NORMAL, reason = ''): number {
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

  closed(session: WsSession, code: number, reason: string, detachable: boolean): void {
    if (this.#sessions.get(session.sid) !== session) return
    const resumer = this.#resumer
    if (resumer && detachable && !this.#closing && !session.detached) {
      this.#detach(resumer, session, code, reason)
      return
    }
    this.#end(session, code, reason)
  }

  overflowed(session: WsSession): void {
    if (this.#sessions.get(session.sid) !== session) return
    session.log.info(
      { keptFrames: session.stream?.keptFrames },
      'detached session past its replay bound: ending',
    )
    this.#end(session, this.#resumer?.detachedCode(session.sid) ?? 1006, 'replay buffer full')
  }

  /** Runs `hook` after the session's earlier hooks (onConnect first); a failure is logged. */
  #runHook(session: WsSession, name: string, hook: () => void | Promise<void>): Promise<void> {
    const next = (session.hooks ?? Promise.resolve()).then(hook).catch((err: unknown) => {
      session.log.error({ err }, `${name} hook failed`)
    })
    session.hooks = next
    return next
  }

  /** Takes the session out of this node's maps (it ended, or moved to another node). */
  #remove(session: WsSession): void {
    this.#sessions.delete(session.sid)
    this.rooms.removeSession(session.sid)
    if (session.userId !== undefined) this.users.remove(session.userId, session.sid)
    this.#resumer?.forget(session.sid)
    this.#heartbeat.remove(session)
  }

  /** The session is over: out of every map, `onDisconnect` once (after its earlier hooks). */
  #end(session: WsSession, code: number, reason: string): void {
    this.#remove(session)
    session.abandon(code, reason)
    this.#stats.sessionsClosed++
    increment(this.#stats.closeCodes, String(code))
    session.baseLog.info({ sid: session.sid, code, reason }, 'session closed')
    const { onDisconnect } = this.options
    void this.#runHook(session, 'onDisconnect', () => onDisconnect?.(session, code, reason)).finally(() =>
      this.#finishOne(),
    )
  }

  #detach(resumer: Resumer, session: WsSession, code: number, reason: string): void {
    session.markDetached()
    resumer.startWindow(session.sid, code, () => {
      if (this.#sessions.get(session.sid) === session) this.#end(session, code, 'resume window expired')
    })
    this.#reportDetached(session, code, reason)
  }

  /** Counted, logged, and `onDetach` (after the session's earlier hooks). */
  #reportDetached(session: WsSession, code: number, reason: string): void {
    this.#stats.sessionsDetached++
    session.baseLog.info({ sid: session.sid, code, reason }, 'session detached: waiting for its client')
    const { onDetach } = this.options
    if (onDetach) void this.#runHook(session, 'onDetach', () => onDetach(session, code, reason))
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
      const sid = newSessionId()
      if (!this.#sessions.has(sid)) return sid
    }
  }

  /** Turns an accepted socket into a new session and runs `onConnect`; `refused`: why a resume was not. */
  open(connection: Connection, refused?: ResumeRefusalReason): WsSession {
    const sid = this.#newSid()
    const session = this.#install(connection, { sid, stream: this.#resumer?.newStream() })
    this.#stats.sessionsOpened++
    connection.log.info({ sid, remoteAddress: session.remoteAddress }, 'session opened')
    if (this.#resumer && refused) increment(this.#stats.resumeRefused, refused)
    this.#announce(session, refused)

    const { onConnect } = this.options
    if (onConnect) {
      session.holdFrames()
      const connecting = (async () => onConnect(session))().then(
        () => session.ready(),
        (err: unknown) => this.#reject(session, err),
      )
      session.hooks = connecting
    }
    return session
  }

  /** The `session` frame (resume on), or `opened` on a transport that announces the session itself. */
  #announce(session: WsSession, refused?: ResumeRefusalReason, replayed?: number): void {
    const resumer = this.#resumer
    if (session.announcesItself) {
      const resumed = replayed !== undefined
      session.opened({
        sid: session.sid,
        resumed,
        ...(resumed ? { replayed } : {}),
        ...(refused ? { reason: refused } : {}),
        ...(resumer && !resumed ? { resumeKey: resumer.resumeKey(session.sid) } : {}),
      })
      return
    }
    if (resumer) session.sendControl(resumer.sessionFrame(session, refused, replayed))
  }

  /**
   * A connection that is not a WebSocket of the plugin's route (its caller did the handshake and
   * verified the credentials): the same checks as an upgrade (shutdown, origin, capacity, address
   * rate, user, per-client limits), then a new or resumed session on it.
   */
  async attach(connection: TransportConnection): Promise<AttachResult> {
    const admitted: Admission = admission(this, connection)
    if (!admitted.ok) {
      this.countRejectedUpgrade(admitted.code)
      return admitted
    }
    const base: Connection = {
      socket: connection.transport,
      log: connection.log,
      remoteAddress: connection.remoteAddress,
      userAgent: connection.userAgent,
      origin: connection.origin,
      user: connection.claims,
      userId: admitted.userId,
    }
    const { resume } = connection
    const session =
      resume && this.#resumer
        ? await this.resume(base, { token: resume.key, lastSeq: resume.lastSeq })
        : this.open(base)
    if (!session)
      return { ok: false, code: 'GONE', message: 'the connection closed while its session was found' }
    return { ok: true, session }
  }

  #install(
    connection: Connection,
    init: { sid: string; stream: SessionStream | undefined; connectedAt?: number },
    meta: Pick<Connection, 'remoteAddress' | 'userAgent' | 'origin' | 'user' | 'userId'> = connection,
  ): WsSession {
    const session = new WsSession({
      sid: init.sid,
      connectedAt: init.connectedAt,
      stream: init.stream,
      socket: connection.socket,
      transport: connection.transport,
      log: connection.log,
      remoteAddress: meta.remoteAddress,
      userAgent: meta.userAgent,
      origin: meta.origin,
      user: meta.user,
      userId: meta.userId,
      host: this,
    })
    this.#unfinished++
    this.#sessions.set(init.sid, session)
    if (session.userId !== undefined) this.users.add(session.userId, init.sid)
    this.#heartbeat.add(session)
    return session
  }

  /**
   * An upgrade with `?resume=`: the same session on this connection when the token, the user and
   * `last_seq` allow it (here, or taken over from another node through `locate`), else a new
   * session whose `session` frame says why. The socket is paused while another node is asked.
   */
  async resume(
    connection: Connection,
    attempt: ResumeAttempt,
    request?: FastifyRequest,
  ): Promise<WsSession | undefined> {
    const resumer = this.#resumer
    if (!resumer) return this.open(connection)
    const claim = resumer.claimOf(attempt)
    if ('refused' in claim) return this.open(connection, claim.refused)
    const lastSeq = attempt.lastSeq as number
    // A resume key names the node that issued it: a session taken over since is resumed where it is.
    if (claim.node === resumer.nodeId || (claim.stable === true && this.#sessions.has(claim.sid))) {
      const found = this.#check(
        claim.sid,
        claim.stable ? undefined : claim.generation,
        lastSeq,
        connection.user,
      )
      if ('refused' in found) return this.open(connection, found.refused)
      this.#resumeHere(resumer, found.session, connection, found.frames)
      return found.session
    }
    const locate = resumer.locate
    if (!locate) return this.open(connection, 'unavailable')
    // No session listens to this socket yet: a socket error meanwhile must not go unhandled.
    const ignore = () => {}
    connection.socket.on('error', ignore)
    connection.socket.pause()
    let answer: SessionSnapshot | ResumeRefusal
    try {
      answer = await locate(claim, { lastSeq, user: connection.user, ...(request ? { request } : {}) })
    } catch (err) {
      connection.log.info({ err, node: claim.node }, 'locate failed: a new session')
      answer = { refused: 'unavailable' }
    }
    connection.socket.removeListener('error', ignore)
    connection.socket.resume()
    if ('refused' in answer) {
      if (connection.socket.readyState === TransportState.OPEN) return this.open(connection, answer.refused)
      return undefined
    }
    return this.#adopt(resumer, answer, connection, answer.from ?? claim.node, lastSeq)
  }

  /** The session `sid` if a token of this node with `generation` may resume it from `lastSeq`. */
  /** `generation` undefined: a resume key, good at any generation. */
  #check(
    sid: string,
    generation: number | undefined,
    lastSeq: number,
    user: UserClaims | undefined,
  ): { session: WsSession; frames: Array<{ seq: number; text: string }> } | ResumeRefusal {
    const session = this.#sessions.get(sid)
    const stream = session?.stream
    if (!session || !stream || (generation !== undefined && stream.generation !== generation))
      return { refused: 'expired' }
    if (!this.#resumer?.sameUser(session.user, user) || lastSeq > session.lastSeq)
      return { refused: 'invalid' }
    const frames = stream.after(lastSeq)
    if (frames === undefined) {
      session.log.info(
        { lastSeq, nextSeq: stream.nextSeq },
        'resume from a seq no longer kept: ending the session',
      )
      if (session.detached) this.#end(session, this.#resumer?.detachedCode(sid) ?? 1006, 'resume gap')
      else session.close(CloseCode.NORMAL, 'resume gap')
      return { refused: 'gap' }
    }
    return { session, frames }
  }

  #resumeHere(
    resumer: Resumer,
    session: WsSession,
    connection: Connection,
    frames: Array<{ seq: number; text: string }>,
  ): void {
    resumer.stopWindow(session.sid)
    ;(session.stream as SessionStream).generation++
    session.attach(connection)
    this.#replay(resumer, session, frames, resumer.nodeId)
  }

  /** Session frame, the frames the client missed, then live ones; `onResume`. */
  #replay(
    resumer: Resumer,
    session: WsSession,
    frames: Array<{ seq: number; text: string }>,
    previousNode: string,
  ): void {
    this.#stats.sessionsResumed++
    this.#announce(session, undefined, frames.length)
    for (const frame of frames) session.sendControl(resumer.stamp(frame))
    const replayed = frames.length
    session.baseLog.info({ sid: session.sid, previousNode, replayed }, 'session resumed')
    const { onResume } = this.options
    if (onResume) void this.#runHook(session, 'onResume', () => onResume(session, { previousNode, replayed }))
  }

  /** Installs a session handed over by another node on this connection (or detached, if it left meanwhile). */
  #adopt(
    resumer: Resumer,
    snapshot: SessionSnapshot,
    connection: Connection,
    previousNode: string,
    lastSeq: number,
  ): WsSession | undefined {
    const session = this.#installSnapshot(resumer, snapshot, connection, connection.userId)
    if (!session) {
      if (connection.socket.readyState === TransportState.OPEN) return this.open(connection, 'unavailable')
      return undefined
    }
    const frames = snapshot.frames.filter((f) => f.seq > lastSeq)
    if (connection.socket.readyState !== TransportState.OPEN) {
      // The client left while the other node was asked: the session waits here, as a detached one.
      this.#replay(resumer, session, [], previousNode)
      this.closed(session, 1006, '', true)
      return undefined
    }
    this.#replay(resumer, session, frames, previousNode)
    return session
  }

  /** The snapshot as a session of this node (rooms joined), or undefined (logged) when it cannot be. */
  #installSnapshot(
    resumer: Resumer,
    snapshot: SessionSnapshot,
    connection: Connection,
    userId: string | undefined,
  ): WsSession | undefined {
    const problem = resumer.snapshotProblem(snapshot)
    if (problem || this.#sessions.has(snapshot.sid)) {
      connection.log.warn(
        { problem: problem ?? 'the SID is already on this node' },
        'handed-over session refused',
      )
      return undefined
    }
    const session = this.#install(
      connection,
      { sid: snapshot.sid, connectedAt: snapshot.connectedAt, stream: resumer.adoptStream(snapshot) },
      {
        remoteAddress: snapshot.remoteAddress,
        userAgent: snapshot.userAgent,
        origin: snapshot.origin,
        user: snapshot.user,
        // The resuming upgrade was checked to be the same user (resumer.claimOf / #check).
        userId,
      },
    )
    resumer.forget(session.sid)
    for (const room of snapshot.rooms.slice(0, this.options.maxRoomsPerSession))
      this.rooms.join(session.sid, room)
    return session
  }

  adoptDetached(snapshot: SessionSnapshot, previousNode: string, log: FastifyBaseLogger): boolean {
    const resumer = this.#resumer
    if (!resumer || this.#closing) return false
    const userId = snapshot.user ? this.#userIdOf(snapshot.user) : undefined
    const connection: Connection = {
      socket: closedSocket(),
      log,
      remoteAddress: snapshot.remoteAddress,
      userAgent: snapshot.userAgent,
      origin: snapshot.origin,
      user: snapshot.user,
      userId,
    }
    const session = this.#installSnapshot(resumer, snapshot, connection, userId)
    if (!session) return false
    this.#replay(resumer, session, [], previousNode)
    this.closed(session, 1006, 'taken over with no client', true)
    return true
  }

  /** The `userId` option on a handed-over session's claims (checked on the node that authenticated it). */
  #userIdOf(claims: UserClaims): string | undefined {
    try {
      const id = this.options.userId(claims)
      return typeof id === 'string' && id.length > 0 ? id : undefined
    } catch {
      return undefined
    }
  }

  handOver(request: HandOverRequest): SessionSnapshot | ResumeRefusal {
    const resumer = this.#resumer
    if (!resumer) return { refused: 'unavailable' }
    const claim = resumer.claimOf({ token: request.token, lastSeq: request.lastSeq })
    if ('refused' in claim) return claim
    const mine = claim.node === resumer.nodeId
    // A resume key keeps naming the node that issued it: the session may be here after a takeover, or
    // have moved on from here (the request then follows it, `movedTo`).
    if (!mine && !claim.stable) return { refused: 'invalid' }
    if (claim.stable && !this.#sessions.has(claim.sid)) {
      const movedTo = resumer.movedTo(claim.sid)
      if (movedTo !== undefined) return { refused: 'expired', movedTo }
      return { refused: mine ? 'expired' : 'invalid' }
    }
    const found = this.#check(
      claim.sid,
      claim.stable ? undefined : claim.generation,
      request.lastSeq,
      request.user,
    )
    if ('refused' in found) return found
    const { session, frames } = found
    // A drain closed the connection to detach the session and this takeover came before the close
    // completed: the session was detached all the same, and onDetach says so before the hand-over
    // (else its close, arriving once the session is gone from here, would report nothing).
    const detaching = session.detaching
    if (detaching !== undefined) this.#reportDetached(session, detaching.code, detaching.reason)
    const snapshot = resumer.snapshot(
      session,
      [...this.rooms.roomsView(session.sid)],
      frames,
      (claim.stable ? (session.stream?.generation ?? 0) : claim.generation) + 1,
    )
    this.#remove(session)
    session.abandon(1000, RESUMED_ELSEWHERE_REASON)
    resumer.moved(session.sid, request.toNode)
    this.#stats.sessionsHandedOver++
    session.baseLog.info({ sid: session.sid, toNode: request.toNode }, 'session handed over to another node')
    void this.#runHook(session, 'hand-over', () => {}).finally(() => this.#finishOne())
    return snapshot
  }

  movedTo(sid: string): string | undefined {
    return this.#resumer?.movedTo(sid)
  }

  detachAll(code = 1012, reason = 'service restart'): number {
    let closed = 0
    for (const session of [...this.#sessions.values()]) {
      if (!session.isOpen) continue
      if (this.#resumer) session.detachConnection(code, reason)
      else session.close(code, reason)
      closed++
    }
    return closed
  }

  drain(code = 1012, reason = 'service restart'): number {
    this.#draining = true
    return this.detachAll(code, reason)
  }

  get nodeId(): string | undefined {
    return this.#resumer?.nodeId
  }

  get detachedCount(): number {
    return this.#resumer?.detachedCount ?? 0
  }

  get replayBytes(): number {
    return this.#resumer?.replayBytes ?? 0
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

  /** Shutdown: refuse new sessions, end every session (live ones closed with 1001), wait for every disconnect hook. */
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
    this.addressLimits?.clear()
    this.#resumer?.dispose()
  }
}
