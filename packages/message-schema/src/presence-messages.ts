import { type Static, Type } from 'typebox'
import {
  BackendEventName,
  CloseReason,
  DisconnectCode,
  EpochMs,
  JsonValue,
  NodeId,
  ProtocolVersion,
  RoomName,
  Sid,
} from './common.js'
import { DEFAULT_ROOM_INFO_LIMIT, MAX_ROOM_INFO_LIMIT, MAX_USER_ID_LENGTH } from './constants.js'

// PROTOCOL.md 4.2: users and presence (CI -> gateway). On the broadcast address every node answers
// for its own sessions; on a node's address, that node alone.

/** A user: the verified JWT `sub` of its sessions. */
export const UserId = Type.String({
  minLength: 1,
  maxLength: MAX_USER_ID_LENGTH,
  description: `the verified JWT sub: 1-${MAX_USER_ID_LENGTH} characters`,
})
export type UserId = Static<typeof UserId>

export const EmitUser = Type.Object({
  type: Type.Literal('EMIT_USER'),
  v: ProtocolVersion,
  user: UserId,
  event: BackendEventName,
  data: Type.Optional(JsonValue),
})
export type EmitUser = Static<typeof EmitUser>

export const DisconnectUser = Type.Object({
  type: Type.Literal('DISCONNECT_USER'),
  v: ProtocolVersion,
  user: UserId,
  code: Type.Optional(DisconnectCode),
  reason: Type.Optional(CloseReason),
})
export type DisconnectUser = Static<typeof DisconnectUser>

export const UserInfo = Type.Object({ type: Type.Literal('USER_INFO'), v: ProtocolVersion, user: UserId })
export type UserInfo = Static<typeof UserInfo>

export const RoomInfo = Type.Object({
  type: Type.Literal('ROOM_INFO'),
  v: ProtocolVersion,
  room: RoomName,
  limit: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: MAX_ROOM_INFO_LIMIT,
      description: `members listed at most (default ${DEFAULT_ROOM_INFO_LIMIT}); count is exact whatever the limit`,
    }),
  ),
})
export type RoomInfo = Static<typeof RoomInfo>

// ---- RESULT.data, on success ----

export const ClosedData = Type.Object({ closed: Type.Integer({ minimum: 0 }) })
export type ClosedData = Static<typeof ClosedData>

export const UserSessionView = Type.Object({
  sid: Sid,
  connectedAt: EpochMs,
  rooms: Type.Array(RoomName),
})
export type UserSessionView = Static<typeof UserSessionView>

export const UserInfoData = Type.Object({
  node: NodeId,
  /** The gateway's addition: the user's sessions on this node, exact (`sessions` lists at most 1000). */
  count: Type.Optional(Type.Integer({ minimum: 0 })),
  sessions: Type.Array(UserSessionView),
})
export type UserInfoData = Static<typeof UserInfoData>

export const RoomMemberView = Type.Object({ sid: Sid, user: Type.Optional(UserId) })
export type RoomMemberView = Static<typeof RoomMemberView>

export const RoomInfoData = Type.Object({
  node: NodeId,
  /** Members of the room on this node, exact. */
  count: Type.Integer({ minimum: 0 }),
  /** At most `limit` of them. */
  members: Type.Array(RoomMemberView),
})
export type RoomInfoData = Static<typeof RoomInfoData>
