import { fastifyWsSessions } from './plugin.js'

export type { ClientFrame, RequestId } from '@session-gateway/message-schema'
export { CloseCode } from '@session-gateway/message-schema'
export { isSendableCloseCode, SessionError, type SessionErrorOptions } from './errors.js'
export { DEFAULTS, defaultClientKey, defaultUserId } from './options.js'
export { fastifyWsSessions } from './plugin.js'
export { RESUME_DEFAULTS } from './resume/resume-options.js'
export {
  type AttachResult,
  type SessionTransport,
  type TransportConnection,
  type TransportOpened,
  TransportState,
} from './transport.js'
export type {
  ConnectRateOptions,
  Delivery,
  DetachHook,
  EventHandler,
  HandOverRequest,
  LocateContext,
  RateLimitOptions,
  ResumeClaim,
  ResumeHook,
  ResumeInfo,
  ResumeOptions,
  ResumeRefusal,
  RoomMembersPage,
  Session,
  SessionRegistry,
  SessionSnapshot,
  UserClaims,
  WsSessionsOptions,
  WsSessionsStats,
} from './types.js'
export { RejectCode } from './upgrade-guard.js'

export default fastifyWsSessions
