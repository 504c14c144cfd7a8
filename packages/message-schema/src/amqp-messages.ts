import { type Static, Type } from 'typebox'
import {
  BackendEventName,
  CloseReason,
  DisconnectCode,
  EpochMs,
  ErrorBody,
  EventName,
  JsonValue,
  NodeId,
  ProtocolVersion,
  RequestId,
  RoomName,
  Sid,
  WsCloseCode,
} from './common.js'
import { DisconnectUser, EmitUser, RoomInfo, UserInfo } from './presence-messages.js'

// AMQP bodies accept fields they do not know (ignored), so that a newer peer can add optional fields.

// ---- gateway -> User Manager ----

export const ClientMeta = Type.Object({
  remoteAddress: Type.String(),
  userAgent: Type.Optional(Type.String()),
  origin: Type.Optional(Type.String()),
  user: Type.Optional(Type.Record(Type.String(), JsonValue, { description: 'verified auth claims' })),
})
export type ClientMeta = Static<typeof ClientMeta>

export const ClientConnected = Type.Object({
  type: Type.Literal('CLIENT_CONNECTED'),
  v: ProtocolVersion,
  sid: Sid,
  node: NodeId,
  ts: EpochMs,
  meta: ClientMeta,
})
export type ClientConnected = Static<typeof ClientConnected>

export const ClientDisconnected = Type.Object({
  type: Type.Literal('CLIENT_DISCONNECTED'),
  v: ProtocolVersion,
  sid: Sid,
  node: NodeId,
  ts: EpochMs,
  code: WsCloseCode,
  /** Why the session ended: the close reason, or what ended a detached session (e.g. `resume window expired`). */
  reason: Type.String(),
})
export type ClientDisconnected = Static<typeof ClientDisconnected>

/** Section 4.1: the connection dropped; the session waits for its client for the resume window. */
export const ClientDetached = Type.Object({
  type: Type.Literal('CLIENT_DETACHED'),
  v: ProtocolVersion,
  sid: Sid,
  node: NodeId,
  ts: EpochMs,
  /** The close code seen (1006 for a dropped connection). */
  code: WsCloseCode,
  reason: Type.String(),
})
export type ClientDetached = Static<typeof ClientDetached>

/** Section 4.1: the session is back on a connection; `reply_to` is the node that holds it now. */
export const ClientResumed = Type.Object({
  type: Type.Literal('CLIENT_RESUMED'),
  v: ProtocolVersion,
  sid: Sid,
  /** The node that holds the session now. */
  node: NodeId,
  /** The node that held it before (equal to `node` for a resume on the same node). */
  previousNode: NodeId,
  ts: EpochMs,
  /** Event frames replayed to the client at once. */
  replayed: Type.Integer({ minimum: 0 }),
})
export type ClientResumed = Static<typeof ClientResumed>

const Instance = Type.String({ minLength: 1, maxLength: 64, description: 'new for every process of a node' })

/** Section 4.3: sent every `intervalMs`, with AMQP ttl = 3 x intervalMs, not durable. */
export const NodeHeartbeat = Type.Object({
  type: Type.Literal('NODE_HEARTBEAT'),
  v: ProtocolVersion,
  node: NodeId,
  instance: Instance,
  ts: EpochMs,
  /** Live and detached sessions the node holds. */
  sessions: Type.Integer({ minimum: 0 }),
  intervalMs: Type.Integer({ minimum: 1 }),
})
export type NodeHeartbeat = Static<typeof NodeHeartbeat>

/** Section 4.3: the last message of a graceful shutdown. */
export const NodeStopped = Type.Object({
  type: Type.Literal('NODE_STOPPED'),
  v: ProtocolVersion,
  node: NodeId,
  instance: Instance,
  ts: EpochMs,
})
export type NodeStopped = Static<typeof NodeStopped>

export const ClientEvent = Type.Object({
  type: Type.Literal('CLIENT_EVENT'),
  v: ProtocolVersion,
  sid: Sid,
  node: NodeId,
  ts: EpochMs,
  event: EventName,
  data: Type.Optional(JsonValue),
  requestId: Type.Optional(RequestId),
})
export type ClientEvent = Static<typeof ClientEvent>

export const UmMessage = Type.Union([
  ClientConnected,
  ClientDisconnected,
  ClientEvent,
  ClientDetached,
  ClientResumed,
  NodeHeartbeat,
  NodeStopped,
])
export type UmMessage = Static<typeof UmMessage>

// ---- Communication Interface -> gateway ----

export const Emit = Type.Object({
  type: Type.Literal('EMIT'),
  v: ProtocolVersion,
  sid: Sid,
  event: BackendEventName,
  data: Type.Optional(JsonValue),
})
export type Emit = Static<typeof Emit>

export const RoomEmit = Type.Object({
  type: Type.Literal('ROOM_EMIT'),
  v: ProtocolVersion,
  room: RoomName,
  event: BackendEventName,
  data: Type.Optional(JsonValue),
  exceptSid: Type.Optional(Sid),
})
export type RoomEmit = Static<typeof RoomEmit>

export const Broadcast = Type.Object({
  type: Type.Literal('BROADCAST'),
  v: ProtocolVersion,
  event: BackendEventName,
  data: Type.Optional(JsonValue),
})
export type Broadcast = Static<typeof Broadcast>

export const Join = Type.Object({ type: Type.Literal('JOIN'), v: ProtocolVersion, sid: Sid, room: RoomName })
export type Join = Static<typeof Join>

export const Leave = Type.Object({
  type: Type.Literal('LEAVE'),
  v: ProtocolVersion,
  sid: Sid,
  room: RoomName,
})
export type Leave = Static<typeof Leave>

export const Disconnect = Type.Object({
  type: Type.Literal('DISCONNECT'),
  v: ProtocolVersion,
  sid: Sid,
  code: Type.Optional(DisconnectCode),
  reason: Type.Optional(CloseReason),
})
export type Disconnect = Static<typeof Disconnect>

export const SessionInfo = Type.Object({ type: Type.Literal('SESSION_INFO'), v: ProtocolVersion, sid: Sid })
export type SessionInfo = Static<typeof SessionInfo>

export const Ping = Type.Object({ type: Type.Literal('PING'), v: ProtocolVersion })
export type Ping = Static<typeof Ping>

/** Every CI -> gateway message, discriminated on `type`. */
export const CiMessage = Type.Union([
  Emit,
  RoomEmit,
  Broadcast,
  Join,
  Leave,
  Disconnect,
  SessionInfo,
  Ping,
  EmitUser,
  DisconnectUser,
  UserInfo,
  RoomInfo,
])
export type CiMessage = Static<typeof CiMessage>

// ---- RESULT (gateway -> the CI message's reply_to) ----

export const ResultOk = Type.Object({
  type: Type.Literal('RESULT'),
  v: ProtocolVersion,
  ok: Type.Literal(true),
  data: Type.Record(Type.String(), JsonValue),
})
export type ResultOk = Static<typeof ResultOk>

export const ResultError = Type.Object({
  type: Type.Literal('RESULT'),
  v: ProtocolVersion,
  ok: Type.Literal(false),
  error: ErrorBody,
})
export type ResultError = Static<typeof ResultError>

export const Result = Type.Union([ResultOk, ResultError])
export type Result = Static<typeof Result>

// `RESULT.data` per CI type, on success.
export const DeliveredData = Type.Object({
  delivered: Type.Integer({ minimum: 0 }),
  /** Section 4.1: frames kept for replay to detached sessions (an `EMIT` to one: `{delivered: 0, kept: 1}`). */
  kept: Type.Optional(Type.Integer({ minimum: 0 })),
})
export type DeliveredData = Static<typeof DeliveredData>

export const SessionInfoData = Type.Object({
  sid: Sid,
  node: NodeId,
  connectedAt: EpochMs,
  rooms: Type.Array(RoomName),
  meta: ClientMeta,
  /** Section 4.1: true while the session has no connection and waits for its client to resume. */
  detached: Type.Optional(Type.Boolean()),
})
export type SessionInfoData = Static<typeof SessionInfoData>

export const PingData = Type.Object({
  node: NodeId,
  sessions: Type.Integer({ minimum: 0 }),
  uptimeMs: Type.Integer({ minimum: 0 }),
  /** The answering process: two processes sharing one node id answer with different instances. */
  instance: Type.Optional(Instance),
})
export type PingData = Static<typeof PingData>

/** Every message any party sends over AMQP. */
export const AmqpMessage = Type.Union([UmMessage, CiMessage, Result])
export type AmqpMessage = Static<typeof AmqpMessage>
