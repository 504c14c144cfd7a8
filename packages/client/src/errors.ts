import type { ClientErrorCode } from '@session-gateway/message-schema'

/** Error codes of the client itself, for a request that got no reply. */
export const LocalErrorCode = {
  /** The client had no open session: nothing was sent. */
  NOT_CONNECTED: 'NOT_CONNECTED',
  /** No reply within the request's `timeoutMs`; the event may still have been delivered. */
  TIMEOUT: 'TIMEOUT',
  /** The connection ended before the reply came; the event may still have been delivered. */
  CLOSED: 'CLOSED',
} as const
export type LocalErrorCode = (typeof LocalErrorCode)[keyof typeof LocalErrorCode]

/** A gateway error code (`INVALID`, `RATE_LIMITED`, `UNAVAILABLE`, …, or one a backend chose) or a local one. */
export type GatewayErrorCode = ClientErrorCode | LocalErrorCode | (string & {})

/** Why a request failed: the gateway's `ok:false` reply, or one of the {@link LocalErrorCode}s. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError'

  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    /** The request's event. */
    readonly event: string,
    /** The request's `id` on the wire; undefined when nothing was sent. */
    readonly requestId: number | undefined,
  ) {
    super(message)
  }
}

export function isGatewayError(value: unknown): value is GatewayError {
  return value instanceof GatewayError
}
