/** Version of the wire contract (PROTOCOL.md). Every AMQP body carries it as `v`. */
export const PROTOCOL_VERSION = 1 as const

/** Event names: 1-64 characters of `[A-Za-z0-9_.:-]`. */
export const EVENT_NAME_PATTERN = '^[A-Za-z0-9_.:-]{1,64}$'
/** A SID: base64url, at least 22 characters (128 bits). */
export const SID_PATTERN = '^[A-Za-z0-9_-]{22,128}$'
export const MAX_REQUEST_ID_LENGTH = 64
export const MAX_ROOM_NAME_LENGTH = 128
/** A WebSocket close reason may hold at most 123 bytes. */
export const MAX_CLOSE_REASON_LENGTH = 123
/** Deepest JSON nesting a decoder accepts by default; deeper input is refused before it can exhaust the stack. */
export const DEFAULT_MAX_DEPTH = 64

/**
 * Event names a backend may not send (EMIT, ROOM_EMIT, BROADCAST, EMIT_USER, the admin API): the
 * gateway's own frames (`session`, `error`) and the names a Socket.IO client fires its own listeners
 * for (`connect`, `disconnect`, …). An event so named would pass for the gateway's frame: a client
 * library would take its data for a session token, or an app for a connection event.
 */
export const GATEWAY_EVENT_NAMES = [
  'session',
  'error',
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
] as const
/** Event names a backend may send: {@link EVENT_NAME_PATTERN} except {@link GATEWAY_EVENT_NAMES}. */
export const BACKEND_EVENT_NAME_PATTERN = `^(?!(?:${GATEWAY_EVENT_NAMES.join('|')})$)[A-Za-z0-9_.:-]{1,64}$`

/** Events the gateway answers itself; they are never forwarded to the User Manager. */
export const RESERVED_EVENTS = ['GET_SID'] as const
export type ReservedEvent = (typeof RESERVED_EVENTS)[number]

/** Error codes a client can receive in a reply or error frame. */
export const ClientErrorCode = {
  BAD_FRAME: 'BAD_FRAME',
  INVALID: 'INVALID',
  RATE_LIMITED: 'RATE_LIMITED',
  UNAVAILABLE: 'UNAVAILABLE',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  INTERNAL: 'INTERNAL',
} as const
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode]

/** Error codes of a `RESULT` message and of CI message decoding. */
export const CiErrorCode = {
  SESSION_NOT_FOUND: 'SESSION_NOT_FOUND',
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  INVALID: 'INVALID',
  INTERNAL: 'INTERNAL',
  /** A `JOIN` past the session's room bound. */
  LIMIT: 'LIMIT',
} as const
export type CiErrorCode = (typeof CiErrorCode)[keyof typeof CiErrorCode]

/** WebSocket close codes used by the gateway (PROTOCOL.md section 1). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** Service restart: a draining node closes connections with it and keeps their sessions (section 4.1). */
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
} as const
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode]
/** Application close codes a CI `DISCONNECT` may give. */
export const APP_CLOSE_CODE_MIN = 4000
export const APP_CLOSE_CODE_MAX = 4999

/** `type` values of the gateway -> User Manager messages. */
export const UM_MESSAGE_TYPES = [
  'CLIENT_CONNECTED',
  'CLIENT_DISCONNECTED',
  'CLIENT_EVENT',
  'CLIENT_DETACHED',
  'CLIENT_RESUMED',
  'NODE_HEARTBEAT',
  'NODE_STOPPED',
] as const
export type UmMessageType = (typeof UM_MESSAGE_TYPES)[number]

/** `type` values of the gateway node <-> gateway node messages (the project's PROTOCOL.md 5.4). */
export const TAKEOVER_MESSAGE_TYPES = ['TAKEOVER_REQUEST', 'TAKEOVER_GRANTED', 'TAKEOVER_REFUSED'] as const
export type TakeoverMessageType = (typeof TAKEOVER_MESSAGE_TYPES)[number]

/** `type` values of the Communication Interface -> gateway messages. */
export const CI_MESSAGE_TYPES = [
  'EMIT',
  'ROOM_EMIT',
  'BROADCAST',
  'JOIN',
  'LEAVE',
  'DISCONNECT',
  'SESSION_INFO',
  'PING',
  'EMIT_USER',
  'DISCONNECT_USER',
  'USER_INFO',
  'ROOM_INFO',
] as const
export type CiMessageType = (typeof CI_MESSAGE_TYPES)[number]

/** CI messages aimed at one SID: on the broadcast address only the node holding the SID answers. */
export const SID_TARGETED_TYPES: ReadonlySet<CiMessageType> = new Set([
  'EMIT',
  'JOIN',
  'LEAVE',
  'DISCONNECT',
  'SESSION_INFO',
])

/** Longest user id (the verified JWT `sub`) a session may have and a CI message may name. */
export const MAX_USER_ID_LENGTH = 256
/** Members a `ROOM_INFO` lists when it gives no `limit`, and the largest `limit` it may give. */
export const DEFAULT_ROOM_INFO_LIMIT = 1000
export const MAX_ROOM_INFO_LIMIT = 10_000

/** AMQP `content_type` of every message. */
export const JSON_CONTENT_TYPE = 'application/json'

// ---- resume (PROTOCOL.md section 4.1) ----

/** The event of the first frame of every connection when resume is on. */
export const SESSION_EVENT = 'session'
/** Query parameter of a resuming upgrade that carries the resume token. */
export const RESUME_QUERY_PARAM = 'resume'
/** Query parameter of a resuming upgrade: the highest `seq` the client received (0 for none). */
export const LAST_SEQ_QUERY_PARAM = 'last_seq'
/** The close reason of an older connection of a session that was resumed on another connection. */
export const RESUMED_ELSEWHERE_REASON = 'session resumed elsewhere'

/**
 * Why a resume attempt gave a new session (`session` frame `reason`):
 * `expired` (window over, session ended, or token used), `invalid` (not a token of this deployment,
 * or another user), `gap` (frames after `last_seq` no longer all kept), `unavailable` (the session's
 * node could not be reached in time).
 */
export const RESUME_REFUSAL_REASONS = ['expired', 'invalid', 'gap', 'unavailable'] as const
export type ResumeRefusalReason = (typeof RESUME_REFUSAL_REASONS)[number]
