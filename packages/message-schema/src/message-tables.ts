import type { TSchema } from 'typebox'
import {
  Broadcast,
  ClientConnected,
  ClientDetached,
  ClientDisconnected,
  ClientEvent,
  ClientResumed,
  Disconnect,
  Emit,
  Join,
  Leave,
  NodeHeartbeat,
  NodeStopped,
  Ping,
  RoomEmit,
  SessionInfo,
} from './amqp-messages.js'
import type { CiMessageType, TakeoverMessageType, UmMessageType } from './constants.js'
import { DisconnectUser, EmitUser, RoomInfo, UserInfo } from './presence-messages.js'
import { TakeoverGranted, TakeoverRefused, TakeoverRequest } from './takeover-messages.js'

/**
 * The schema of each AMQP message type, in one place: the validators compile these and the
 * AsyncAPI document lists them. The compiler checks that every type of `CI_MESSAGE_TYPES` /
 * `UM_MESSAGE_TYPES` has one (and no other).
 */
export const CI_SCHEMAS = {
  EMIT: Emit,
  ROOM_EMIT: RoomEmit,
  BROADCAST: Broadcast,
  JOIN: Join,
  LEAVE: Leave,
  DISCONNECT: Disconnect,
  SESSION_INFO: SessionInfo,
  PING: Ping,
  EMIT_USER: EmitUser,
  DISCONNECT_USER: DisconnectUser,
  USER_INFO: UserInfo,
  ROOM_INFO: RoomInfo,
} as const satisfies Record<CiMessageType, TSchema>

export const UM_SCHEMAS = {
  CLIENT_CONNECTED: ClientConnected,
  CLIENT_DISCONNECTED: ClientDisconnected,
  CLIENT_EVENT: ClientEvent,
  CLIENT_DETACHED: ClientDetached,
  CLIENT_RESUMED: ClientResumed,
  NODE_HEARTBEAT: NodeHeartbeat,
  NODE_STOPPED: NodeStopped,
} as const satisfies Record<UmMessageType, TSchema>

/** Node to node, on the nodes' takeover addresses (the project's PROTOCOL.md 5.4). */
export const TAKEOVER_SCHEMAS = {
  TAKEOVER_REQUEST: TakeoverRequest,
  TAKEOVER_GRANTED: TakeoverGranted,
  TAKEOVER_REFUSED: TakeoverRefused,
} as const satisfies Record<TakeoverMessageType, TSchema>
