import type { ClientFrame } from '@session-gateway/message-schema'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type {
  Delivery,
  DetachHook,
  HandOverRequest,
  ResumeHook,
  ResumeOptions,
  ResumeRefusal,
  SessionSnapshot,
} from './resume/types.js'
import type { AttachResult, TransportConnection } from './transport.js'

export type {
  Delivery,
  DetachHook,
  HandOverRequest,
  LocateContext,
  ResumeClaim,
  ResumeHook,
  ResumeInfo,
  ResumeOptions,
  ResumeRefusal,
  SessionSnapshot,
} from './resume/types.js'

/** Claims returned by `authenticate`, stored on `session.user`. */
export type UserClaims = Record<string, unknown>

/** A per-session token bucket. */
export interface RateLimitOptions {
  /** Tokens added per second (a frame costs one token). */
  ratePerSec: number
  /** Bucket size: how many frames may arrive at once. */
  burst: number
  /** Rate-limited frames a session may send; one more closes it with 1008. */
  maxViolations: number
}

/** A per-client token bucket of new sessions. */
export interface ConnectRateOptions {
  /** New sessions per second a client key regains. */
  perSec: number
  /** Bucket size: how many sessions a client key may open at once. */
  burst: number
}

/**
 * Handles one client event. The returned value becomes the `data` of the ok
 * reply when the client sent an `id`; a thrown {@link SessionError} becomes an
 * error reply with its code and message; anything else thrown becomes `INTERNAL`.
 */
export type EventHandler = (session: Session, data: unknown, frame: ClientFrame) => unknown | Promise<unknown>

export interface WsSessionsOptions {
  /** Route of the WebSocket endpoint. Default `'/ws'`. */
  path?: string
  /** Largest frame in bytes; a larger one closes the session with 1009. Default 1 MiB. */
  maxPayload?: number
  /** Sessions per node; past it, upgrades get HTTP 503. Default 10 000. */
  maxSessions?: number
  /** Bad frames a session may send (each answered with an error); one more closes it with 1008. Default 10. */
  maxBadFrames?: number
  /** Per-session token bucket, or `false` for none. Default `{ ratePerSec: 100, burst: 200, maxViolations: 50 }`. */
  rateLimit?: RateLimitOptions | false
  /** Rooms one session may be in. Default 100. */
  maxRoomsPerSession?: number
  /** Unsent bytes a session may hold; past it the session is closed with 1013 'slow consumer'. Default 4 MiB. */
  maxBufferedBytes?: number
  /** Protocol ping interval in ms; no pong before the next ping terminates the session. 0 disables. Default 30 000. */
  heartbeatIntervalMs?: number
  /** Origins allowed to connect (exact match of the `Origin` header); `undefined` allows any. */
  allowedOrigins?: string[]
  /** Runs before the upgrade; returns the claims stored on `session.user`. Throwing or returning `undefined` answers HTTP 401. */
  authenticate?: (request: FastifyRequest) => Promise<UserClaims | undefined> | UserClaims | undefined
  /** Runs once a session is open, before its frames are handled. Throwing rejects the session (close 1011, or the SessionError's `closeCode`). */
  onConnect?: (session: Session) => void | Promise<void>
  /**
   * Runs exactly once per session, when it ends, whatever ended it (with resume on: a close that
   * ends it, its window or replay bound running out, a gap); never when it detaches, never on the
   * node that handed it over to another node.
   */
  onDisconnect?: (session: Session, code: number, reason: string) => void | Promise<void>
  /**
   * Sessions that outlive their connection (PROTOCOL.md 4.1), or `false` (the default) for none.
   * `{ windowMs: 0 }` is off too.
   */
  resume?: ResumeOptions | false
  /** With resume on: the session's connection dropped and the session waits (`code`: the close code seen). */
  onDetach?: DetachHook
  /** With resume on: the session is back on a new connection (on this node, or taken over from another). */
  onResume?: ResumeHook
  /** Fallback for every event without its own handler. Without it such an event is answered `INVALID`. */
  onEvent?: EventHandler
  /**
   * The session's user, from the claims `authenticate` returned (sync): a string of 1-256 characters,
   * or `undefined` for none. Anything else, or a longer string, answers HTTP 401. Default: the claims'
   * `sub` when it is a non-empty string. Sessions of one user are indexed (`userSessions`,
   * `emitToUser`, `disconnectUser`) and, by default, are one client for the per-client limits.
   */
  userId?: (claims: UserClaims) => string | undefined
  /**
   * The key a client is counted under by `maxSessionsPerClient` and `connectRate` (sync; runs after
   * `authenticate`). Default: `user:<userId>` when the session has a user, else `ip:<request.ip>`
   * (`request.ip` honours Fastify's `trustProxy`).
   */
  clientKey?: (request: FastifyRequest, user: UserClaims | undefined) => string
  /** Concurrent sessions per client key; past it the upgrade gets HTTP 429. 0 (the default) turns it off. */
  maxSessionsPerClient?: number
  /** Per-client token bucket of new sessions, or `false` (the default); without a token the upgrade gets HTTP 429. */
  connectRate?: ConnectRateOptions | false
  /**
   * Per-address token bucket of upgrade attempts (`request.ip`, so `trustProxy` applies), or `false` (the
   * default). Checked before `authenticate`, so an address over its budget is refused (HTTP 429
   * `ADDRESS_RATE_LIMITED`) without running it; every attempt that gets this far costs a token, refused or not.
   */
  addressConnectRate?: ConnectRateOptions | false
  /** Client keys tracked at most; past it the least recently seen idle key is forgotten. Default 100 000. */
  maxClientKeys?: number
  /** Deepest JSON nesting accepted in a frame. Default 64. */
  maxDepth?: number
  /** How long a server-initiated close waits for the client's close frame before the socket is destroyed, in ms. Default 2000. */
  closeTimeoutMs?: number
}

/** One WebSocket connection. */
export interface Session {
  /** Session id: 22 base64url characters, 128 random bits. */
  readonly sid: string
  /** When the session opened, ms since the epoch. */
  readonly connectedAt: number
  /** `request.ip` of the upgrade request (honours Fastify's `trustProxy`). */
  readonly remoteAddress: string
  // `| undefined` as well: a consumer compiling with exactOptionalPropertyTypes gets the same type.
  readonly userAgent?: string | undefined
  readonly origin?: string | undefined
  /** Claims returned by `authenticate`. */
  readonly user?: UserClaims | undefined
  /** The session's user (`userId` of the claims; by default their `sub`), when it has one. */
  readonly userId?: string | undefined
  /** The rooms the session is in (a snapshot). */
  readonly rooms: ReadonlySet<string>
  /** Child logger carrying `{ sid }`. */
  readonly log: FastifyBaseLogger
  /** Bytes queued on the socket and not yet sent. */
  readonly bufferedAmount: number
  /** True while its connection is open and the session is not closing. */
  readonly isOpen: boolean
  /** With resume on: true while the session has no connection and waits for its client. */
  readonly detached: boolean
  /** With resume on: the seq of the last event frame given to the session (0 for none). */
  readonly lastSeq: number
  /** Sends an event frame; false when the session is not open or passed its send-buffer bound. */
  send(event: string, data?: unknown): boolean
  /**
   * Sends an already-encoded event frame (the text of message-schema's `encodeEventFrame`: serialize
   * once, send to many). With resume on it gets its `seq` here.
   */
  sendRaw(text: string): boolean
  /** Like `send`, saying what became of the frame: `kept` = numbered and kept for a detached session. */
  deliver(event: string, data?: unknown): Delivery
  /** Like `sendRaw`, saying what became of the frame. */
  deliverRaw(text: string): Delivery
  /** Starts a close handshake; the socket is destroyed if the client does not answer within `closeTimeoutMs`. */
  close(code?: number, reason?: string): void
}

/** One page of a room's members (`SessionRegistry.roomMembers`). */
export interface RoomMembersPage {
  /** Members of the room on this node, exact. */
  count: number
  members: Session[]
}

export interface WsSessionsStats {
  sessionsOpened: number
  sessionsClosed: number
  /** Frames received from clients (text and binary). */
  framesIn: number
  /** Frames handed to client sockets (events, replies, error frames). */
  framesOut: number
  /** Errors sent to clients, or raised by handlers for frames without id, by code. */
  errorsByCode: Record<string, number>
  /**
   * Upgrades answered with an HTTP error, by code (`SHUTTING_DOWN`, `ORIGIN_NOT_ALLOWED`, `TOO_MANY_SESSIONS`,
   * `UNAUTHORIZED`, `TOO_MANY_CLIENT_SESSIONS`, `CONNECT_RATE_LIMITED`, `ADDRESS_RATE_LIMITED`).
   */
  rejectedUpgrades: Record<string, number>
  /** Closed sessions by the close code given to `onDisconnect`. */
  closeCodes: Record<string, number>
  /** With resume on: connections that dropped and left their session detached. */
  sessionsDetached: number
  /** With resume on: sessions resumed on this node (same node, or taken over). */
  sessionsResumed: number
  /** With resume on: sessions handed over to another node. */
  sessionsHandedOver: number
  /** With resume on: resume attempts that gave a new session, by reason. */
  resumeRefused: Record<string, number>
}

/** The registry of this node's sessions: `fastify.wsSessions`. */
export interface SessionRegistry {
  get(sid: string): Session | undefined
  has(sid: string): boolean
  readonly size: number
  values(): IterableIterator<Session>
  [Symbol.iterator](): IterableIterator<Session>
  /** Sends an event to one session; false when there is no such open session. */
  send(sid: string, event: string, data?: unknown): boolean
  /** Sends an event to one session: `delivered`, `kept` (detached, kept for replay), or `none`. */
  deliver(sid: string, event: string, data?: unknown): Delivery
  /** Closes one session; false when there is no such session. */
  close(sid: string, code?: number, reason?: string): boolean
  /** Registers the handler of one event (`GET_SID` is reserved). */
  handle(event: string, handler: EventHandler): void
  /** Throws SessionError `SESSION_NOT_FOUND`, `LIMIT` (too many rooms) or `INVALID` (bad room name). */
  join(sid: string, room: string): void
  /** Throws SessionError `SESSION_NOT_FOUND`; leaving a room one is not in does nothing. */
  leave(sid: string, room: string): void
  /** SIDs in a room (a snapshot; empty for an unknown room). */
  members(room: string): ReadonlySet<string>
  /** Rooms of a session (a snapshot; empty for an unknown session). */
  roomsOf(sid: string): ReadonlySet<string>
  /** Number of non-empty rooms. */
  readonly roomCount: number
  /**
   * A page of a room's members, in join order: `count` is exact, `members` holds at most `limit`
   * (default 1000) from `offset` (default 0). Costs O(offset + limit), whatever the node holds.
   */
  roomMembers(room: string, page?: { offset?: number; limit?: number }): RoomMembersPage
  /** The sessions of a user on this node, oldest first (a snapshot; empty for a user with none). */
  userSessions(user: string): Session[]
  /** Users with at least one session on this node. */
  readonly userCount: number
  /** Sends one event to every session of a user, serialized once; returns how many sessions it was handed to. */
  emitToUser(user: string, event: string, data?: unknown): number
  /**
   * Closes every session of a user (with `code`, default 1000, as `close`); returns how many were open and
   * are now closing. Each stays listed (`userSessions`) until its connection has closed.
   */
  disconnectUser(user: string, code?: number, reason?: string): number
  /** Sends one event to every member of a room, serialized once; returns how many sessions it was handed to. */
  emitToRoom(room: string, event: string, data?: unknown, exceptSid?: string): number
  /** Sends one event to every session, serialized once; returns how many sessions it was handed to. */
  broadcast(event: string, data?: unknown): number
  readonly stats: Readonly<WsSessionsStats>
  /** True once `fastify.close()` started. */
  readonly closing: boolean
  /** Timers the plugin holds (heartbeat and close timeouts): 0 when no session is open or closing. */
  readonly activeTimers: number
  /**
   * Client keys tracked by `maxSessionsPerClient` / `connectRate` (reading it first drops keys with no
   * session and a full bucket): 0 when idle and every bucket has refilled.
   */
  readonly clientKeys: number
  /** Sessions counted for a client key (connections accepted and not yet closed). */
  sessionsOfClient(key: string): number
  /** This node's id in resume tokens (undefined when resume is off). */
  readonly nodeId: string | undefined
  /** Sessions without a connection, waiting for their client. */
  readonly detachedCount: number
  /** Characters of frame text kept for replay by every session of this node. */
  readonly replayBytes: number
  /**
   * Another node's client resumed a session of this node: checks the token (single use), the user and
   * `lastSeq`; on success closes a still-open connection (1000 'session resumed elsewhere'), removes
   * the session without `onDisconnect`, remembers where it went (`movedTo`) for the window, and
   * returns its snapshot. A `gap` ends the session here.
   */
  handOver(request: HandOverRequest): SessionSnapshot | ResumeRefusal
  /**
   * Installs a session another node handed over when no client waits for it here (its resume gave
   * up before the hand-over came back): the session is detached for the window, `onResume` (replayed
   * 0) then `onDetach` run, and it ends here exactly once. False when it cannot be installed (resume
   * off, shutting down, a bad snapshot, the SID already here).
   */
  adoptDetached(snapshot: SessionSnapshot, previousNode: string, log: FastifyBaseLogger): boolean
  /** The node a session of this node was handed over to, for the resume window after it moved. */
  movedTo(sid: string): string | undefined
  /**
   * Closes every live connection with `code` (default 1012 'service restart') and keeps the sessions
   * detached for their window (a rolling deploy: their clients resume on other nodes). Returns how many
   * it closed. Without resume, the sessions end as with any server close.
   */
  detachAll(code?: number, reason?: string): number
  /**
   * A rolling deploy: refuses new upgrades from now on (503, as while closing: `closing` is true) and
   * `detachAll(code, reason)`. Sessions stay detached (hand-overs to other nodes still work) until the
   * app closes, which ends the rest.
   */
  drain(code?: number, reason?: string): number
  /**
   * Refuses new upgrades, closes every session with 1001 (a detached one ends at once) and resolves
   * once each has ended and its hooks ran. The app's close does it too (calling it first is harmless).
   */
  shutdown(): Promise<void>
  /**
   * Makes a session of a connection that is not a WebSocket of the plugin's route (e.g. Socket.IO), the
   * caller having done its handshake and verified its credentials: the upgrade's checks (shutdown,
   * origin, capacity, address rate, user, per-client limits), then a new session, or the resumed one
   * when `resume` holds a key or token that resumes it (else a new session, `opened.reason` saying why).
   * Every rule of a session applies to it (rate limit, bad frames, send-buffer bound, heartbeat, resume).
   */
  attach(connection: TransportConnection): Promise<AttachResult>
}
