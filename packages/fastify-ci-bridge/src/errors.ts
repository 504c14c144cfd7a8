/** Why a send, request or subscription did not succeed. */
export type BridgeErrorCode = 'REJECTED' | 'RELEASED' | 'TIMEOUT' | 'UNAVAILABLE' | 'CLOSED'

export interface BridgeErrorDetails {
  /** The AMQP error condition the peer gave, when it gave one (e.g. `amqp:not-found`). */
  condition?: string
  /** The address the operation was aimed at. */
  address?: string
}

/**
 * The one error type the bridge rejects with.
 *
 * - `REJECTED`: the broker settled the message `rejected`, or refused the link to its address.
 * - `RELEASED`: the broker settled the message `released` (or `modified`): it did not take it.
 * - `TIMEOUT`: no outcome within the time allowed. The message may still have arrived.
 * - `UNAVAILABLE`: the outbox is full while the broker is away.
 * - `CLOSED`: the bridge is closing or closed.
 */
export class BridgeError extends Error {
  readonly code: BridgeErrorCode
  readonly condition: string | undefined
  readonly address: string | undefined

  constructor(code: BridgeErrorCode, message: string, details: BridgeErrorDetails = {}) {
    super(message)
    this.name = 'BridgeError'
    this.code = code
    this.condition = details.condition
    this.address = details.address
  }
}

export function isBridgeError(value: unknown): value is BridgeError {
  return value instanceof BridgeError
}
