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
export function createConsumer<T>(options: ConsumerOptions<T>): (message: Message) => Promise<Settlement> {
  const { source, decode, handler, dedupe, log, stats, replyError, replyAddress } = options

  return async (amqpMessage: Message): Promise<Settlement> => {
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
    if (!decoded.ok) {
      stats.invalid()
      log.warn(
        {
          source,
          type: decoded.type ?? meta.subject,
          messageId: meta.messageId,
          code: decoded.error.code,
          error: decoded.error.message,
        },
        'amqp: message rejected',
      )
      if (meta.replyTo)
        await replyError(meta.replyTo, correlationId, decoded.error.code, decoded.error.message)
      return {
        outcome: 'rejected',
        condition: DECODE_ERROR_CONDITION,
        description: `${decoded.error.code}: ${decoded.error.message}`,
      }
    }

    // Keyed with the id's type: the ulong 7 and the string "7" are two messages.
    const id = meta.amqpMessageId === undefined ? undefined : idKey(meta.amqpMessageId)
    if (id !== undefined) {
      let status = dedupe.status(id)
      if (typeof status !== 'string') status = (await status) ? 'done' : 'new'
      if (status === 'done') {
        stats.duplicate()
        log.debug({ source, messageId: id }, 'amqp: duplicate dropped')
        return { outcome: 'accepted' }
      }
    }
    const finish = id === undefined ? undefined : dedupe.begin(id)
    stats.received(typeOf(decoded.message))
    try {
      await handler(decoded.message, meta)
      finish?.(true)
      return { outcome: 'accepted' }
    } catch (error) {
      finish?.(false)
      const description = error instanceof Error ? error.message : String(error)
      log.error(
        { source, type: typeOf(decoded.message), messageId: id, err: error },
        'amqp: message handler failed; message rejected',
      )
      if (meta.replyTo) await replyError(meta.replyTo, correlationId, CiErrorCode.INTERNAL, description)
      return { outcome: 'rejected', condition: HANDLER_ERROR_CONDITION, description }
    }
  }
}
