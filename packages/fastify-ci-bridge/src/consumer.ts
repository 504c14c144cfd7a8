import { type AmqpDecodeResult, CiErrorCode } from '@session-gateway/message-schema'
import type { Message } from 'rhea'
import { type AmqpId, idKey } from './amqp-ids.js'
import { bodyOf, metaOf } from './codec.js'
import type { DedupeWindow } from './dedupe.js'
import type { Settlement } from './receiver.js'
import type { BridgeLogger, ReceivedMeta } from './types.js'

/** The condition a message that cannot be decoded, fails its schema or has an unknown type is rejected with. */
export const DECODE_ERROR_CONDITION = 'amqp:decode-error'
/** The condition a message whose handler threw is rejected with. */
export const HANDLER_ERROR_CONDITION = 'amqp:internal-error'

export interface ConsumerStats {
  received(type: string): void
  invalid(): void
  duplicate(): void
}

export interface ConsumerOptions<T> {
  /** `meta.source` of what this consumer receives. */
  source: string
  decode: (body: unknown) => AmqpDecodeResult<T>
  handler: (message: T, meta: ReceivedMeta) => Promise<void> | void
  dedupe: DedupeWindow
  log: BridgeLogger
  stats: ConsumerStats
  /** The address replies go to for a received `reply_to` (see `replyAddressFor`). */
  replyAddress: (replyTo: string) => string
  /** Sends a `RESULT` error to `replyTo` (correlation id given); never rejects. */
  replyError: (
    replyTo: string,
    correlationId: AmqpId | undefined,
    code: string,
    message: string,
  ) => Promise<void>
}

/** The settlement of every message handled or dropped as a duplicate (never modified). */
const ACCEPTED: Settlement = Object.freeze({ outcome: 'accepted' })

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function'
}

function typeOf(message: unknown): string {
  if (typeof message === 'object' && message !== null && 'type' in message) {
    const type = (message as { type: unknown }).type
    if (typeof type === 'string') return type
  }
  return '(none)'
}

/**
 * What happens to each received message: decode and validate; a failure is logged (warn, with type
 * and message id), answered with a `RESULT` error where there is a `reply_to`, and settled `rejected`
 * (`amqp:decode-error`). A duplicate (same message_id as one already handled successfully) is settled
 * `accepted` without running the handler; a copy arriving while the original is still being handled
 * waits for it. Otherwise the handler runs and the message is settled `accepted` once it resolves, or
 * `rejected` (`amqp:internal-error`, plus a `RESULT` error `INTERNAL`) when it throws.
 */
export function createConsumer<T>(
  options: ConsumerOptions<T>,
): (message: Message) => Settlement | Promise<Settlement> {
  const { source, decode, handler, dedupe, log, stats, replyError, replyAddress } = options

  const duplicate = (id: string): Settlement => {
    stats.duplicate()
    log.debug({ source, messageId: id }, 'amqp: duplicate dropped')
    return ACCEPTED
  }

  const rejectInvalid = async (
    meta: ReceivedMeta,
    correlationId: AmqpId | undefined,
    error: { code: string; message: string },
    type: string | undefined,
  ): Promise<Settlement> => {
    stats.invalid()
    log.warn(
      {
        source,
        type: type ?? meta.subject,
        messageId: meta.messageId,
        code: error.code,
        error: error.message,
      },
      'amqp: message rejected',
    )
    if (meta.replyTo) await replyError(meta.replyTo, correlationId, error.code, error.message)
    return {
      outcome: 'rejected',
      condition: DECODE_ERROR_CONDITION,
      description: `${error.code}: ${error.message}`,
    }
  }

  const handlerFailed = async (
    message: T,
    meta: ReceivedMeta,
    correlationId: AmqpId | undefined,
    id: string | undefined,
    error: unknown,
  ): Promise<Settlement> => {
    const description = error instanceof Error ? error.message : String(error)
    log.error(
      { source, type: typeOf(message), messageId: id, err: error },
      'amqp: message handler failed; message rejected',
    )
    if (meta.replyTo) await replyError(meta.replyTo, correlationId, CiErrorCode.INTERNAL, description)
    return { outcome: 'rejected', condition: HANDLER_ERROR_CONDITION, description }
  }

  // Runs the handler; a handler that finishes in the same turn (no promise) is settled in that turn,
  // without a promise of the consumer's own.
  const run = (
    message: T,
    meta: ReceivedMeta,
    correlationId: AmqpId | undefined,
    id: string | undefined,
  ): Settlement | Promise<Settlement> => {
    const finish = id === undefined ? undefined : dedupe.begin(id)
    stats.received(typeOf(message))
    let result: Promise<void> | void
    try {
      result = handler(message, meta)
    } catch (error) {
      finish?.(false)
      return handlerFailed(message, meta, correlationId, id, error)
    }
    if (!isPromiseLike(result)) {
      finish?.(true)
      return ACCEPTED
    }
    return Promise.resolve(result).then(
      () => {
        finish?.(true)
        return ACCEPTED
      },
      (error: unknown) => {
        finish?.(false)
        return handlerFailed(message, meta, correlationId, id, error)
      },
    )
  }

  return (amqpMessage: Message): Settlement | Promise<Settlement> => {
    const meta = metaOf(amqpMessage, source, replyAddress)
    const correlationId = meta.amqpMessageId ?? meta.amqpCorrelationId
    let decoded: AmqpDecodeResult<T>
    try {
      decoded = decode(bodyOf(amqpMessage))
    } catch (error) {
      decoded = {
        ok: false,
        error: { code: CiErrorCode.INVALID, message: `decoder failed: ${String(error)}` },
      }
    }
    if (!decoded.ok) return rejectInvalid(meta, correlationId, decoded.error, decoded.type)
    const message = decoded.message

    // Keyed with the id's type: the ulong 7 and the string "7" are two messages.
    const id = meta.amqpMessageId === undefined ? undefined : idKey(meta.amqpMessageId)
    if (id === undefined) return run(message, meta, correlationId, undefined)
    const status = dedupe.status(id)
    if (status === 'done') return duplicate(id)
    if (status === 'new') return run(message, meta, correlationId, id)
    // A copy of a message still being handled: its original's result decides.
    return status.then((succeeded) => (succeeded ? duplicate(id) : run(message, meta, correlationId, id)))
  }
}
