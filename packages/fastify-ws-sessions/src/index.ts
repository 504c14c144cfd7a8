import { fastifyWsSessions } from './plugin.js'

export type { ClientFrame, RequestId } from '@session-gateway/message-schema'
export { CloseCode } from '@session-gateway/message-schema'
export { isSendableCloseCode, SessionError, type SessionErrorOptions } from './errors.js'
export { DEFAULTS, defaultClientKey, defaultUserId } from './options.js'
export { fastifyWsSessions } from './plugin.js'
export type {
  ConnectRateOptions,
  EventHandler,
  RateLimitOptions,
  RoomMembersPage,
  Session,
  SessionRegistry,
  UserClaims,
  WsSessionsOptions,
  WsSessionsStats,
} from './types.js'
export { RejectCode } from './upgrade-guard.js'

export default fastifyWsSessions
