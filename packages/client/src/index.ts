export { DEFAULT_RECONNECT, type ReconnectOptions, reconnectDelay } from './backoff.js'
export { ANY_EVENT, GatewayClient, isFinalClose } from './client.js'
export type { Clock } from './clock.js'
export { GatewayError, type GatewayErrorCode, isGatewayError, LocalErrorCode } from './errors.js'
export type { ClientOptions, TokenSource } from './options.js'
export type { RequestOutcome } from './requests.js'
export type { CloseEventLike, MessageEventLike, WebSocketConstructor, WebSocketLike } from './socket.js'
export type {
  ClientObservations,
  ClientState,
  ClosedBy,
  CloseInfo,
  EventHandler,
  RequestOptions,
  ResetReason,
  ServerEvent,
  SessionInfo,
} from './types.js'

import { GatewayClient } from './client.js'
import type { ClientOptions } from './options.js'

/**
 * Opens a session with the gateway at `url` (`ws://host:port/ws`) and keeps it: reconnects with
 * backoff and resumes after a drop. Returns at once; `await client.ready()` for the session.
 */
export function connect(url: string, options: ClientOptions = {}): GatewayClient {
  return new GatewayClient(url, options)
}
