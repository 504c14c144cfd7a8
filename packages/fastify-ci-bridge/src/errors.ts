/** Why a send, request or subscription did not succeed. */
export type BridgeErrorCode = 'REJECTED' | 'RELEASED' | 'TIMEOUT' | 'UNAVAILABLE' | 'CLOSED'

export interface BridgeErrorDetails {
  /** The AMQP error condition the peer gave, when it gave one (e.g. `amqp:not-found`). */
  condition?: string
  /** The address the operation was aimed at. */
  address?: string
  /** What caused it: the peer's AMQP error, or the error that stopped the operation. */
  cause?: unknown
}

/**
 * The one error type the bridge rejects with (the gateway's in-process bus throws it too, so that
 * callers check one `code` whatever the transport).
 *
 * - `REJECTED`: the broker settled the message `rejected`, or refused the link to its address.
 * - `RELEASED`: the broker settled the message `released` (or `modified`): it did not take it.
 * - `TIMEOUT`: no outcome within the time allowed. The message may still have arrived.
 * - `UNAVAILABLE`: the outbox is full while the broker is away (or the transport is closed).
 * - `CLOSED`: the bridge is closing or closed.
 */
export class BridgeError extends Error {
  readonly code: BridgeErrorCode
  readonly condition: string | undefined
  readonly address: string | undefined

  constructor(code: BridgeErrorCode, message: string, details: BridgeErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'BridgeError'
    this.code = code
    this.condition = details.condition
    this.address = details.address
  }
}

export function isBridgeError(value: unknown): value is BridgeError {
  return value instanceof BridgeError
}

/** True for a BridgeError with that code (the check callers make on a failed send or request). */
export function hasBridgeErrorCode(value: unknown, code: BridgeErrorCode): value is BridgeError {
  return value instanceof BridgeError && value.code === code
}
