import { Compile } from 'typebox/compile'
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
  Result,
  RoomEmit,
  SessionInfo,
} from './amqp-messages.js'
import { RequestId, Trace } from './common.js'
import { DisconnectUser, EmitUser, RoomInfo, UserInfo } from './presence-messages.js'
import { ClientFrame, ErrorFrame, ReplyFrame, ServerFrame, SessionFrame } from './ws-frames.js'

// Compiled once, at module load; never per message.
export const clientFrameValidator = Compile(ClientFrame)
export const serverFrameValidator = Compile(ServerFrame)
export const replyFrameValidator = Compile(ReplyFrame)
export const errorFrameValidator = Compile(ErrorFrame)
export const sessionFrameValidator = Compile(SessionFrame)
export const requestIdValidator = Compile(RequestId)
export const traceValidator = Compile(Trace)
export const resultValidator = Compile(Result)

export const ciValidators = {
  EMIT: Compile(Emit),
  ROOM_EMIT: Compile(RoomEmit),
  BROADCAST: Compile(Broadcast),
  JOIN: Compile(Join),
  LEAVE: Compile(Leave),
  DISCONNECT: Compile(Disconnect),
  SESSION_INFO: Compile(SessionInfo),
  PING: Compile(Ping),
  EMIT_USER: Compile(EmitUser),
  DISCONNECT_USER: Compile(DisconnectUser),
  USER_INFO: Compile(UserInfo),
  ROOM_INFO: Compile(RoomInfo),
}

export const umValidators = {
  CLIENT_CONNECTED: Compile(ClientConnected),
  CLIENT_DISCONNECTED: Compile(ClientDisconnected),
  CLIENT_EVENT: Compile(ClientEvent),
  CLIENT_DETACHED: Compile(ClientDetached),
  CLIENT_RESUMED: Compile(ClientResumed),
  NODE_HEARTBEAT: Compile(NodeHeartbeat),
  NODE_STOPPED: Compile(NodeStopped),
}

interface ErrorSource {
  Errors(value: unknown): ReadonlyArray<{ instancePath: string; message: string; keyword: string }>
}

/** One readable line for the most specific schema error of `value`. */
export function describeFirstError(validator: ErrorSource, value: unknown): string {
  const errors = validator.Errors(value)
  // anyOf/union summaries say little; prefer the first concrete error.
  const concrete = errors.find((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf') ?? errors[0]
  if (!concrete) return 'does not match the schema'
  const where = concrete.instancePath === '' ? 'message' : concrete.instancePath.slice(1).replaceAll('/', '.')
  return `${where} ${concrete.message}`
}
