import { randomUUID } from 'node:crypto'
import { JSON_CONTENT_TYPE } from '@session-gateway/message-schema'
import rhea, { type Message } from 'rhea'
import { type AmqpId, idProblem, idString, receivedId, wireId } from './amqp-ids.js'
import type { ReceivedMeta, SendOptions } from './types.js'

const DATA_SECTION = 0x75

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value)
}

function checkId(name: string, id: unknown): void {
  const problem = id === undefined ? undefined : idProblem(id)
  if (problem) throw new TypeError(`${name}: ${problem}`)
}

/** Throws a TypeError for an id or a ttl that cannot be sent. */
export function checkSendOptions(options: SendOptions): void {
  // Two plain checks, not a loop over a fresh array: this runs for every message sent.
  checkId('messageId', options.messageId)
  checkId('correlationId', options.correlationId)
  const { ttl, coalesceMs } = options
  if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 0 || ttl > 0xffffffff)) {
    throw new TypeError(`ttl: must be an integer of ms between 0 and 4294967295, got ${ttl}`)
  }
  if (coalesceMs !== undefined && (!Number.isInteger(coalesceMs) || coalesceMs < 1 || coalesceMs > 100)) {
    throw new TypeError(`coalesceMs: must be an integer of ms between 1 and 100, got ${coalesceMs}`)
  }
}

/** The message's subject: the option, else the body's `type` when it is a string. */
export function subjectOf(body: object, options: SendOptions): string | undefined {
  const type = (body as { type?: unknown }).type
  return options.subject ?? (typeof type === 'string' ? type : undefined)
}

/**
 * Encodes a body as PROTOCOL.md section 2 says: one data section of UTF-8 JSON, content_type
 * application/json, subject = the body's `type`, a unique message_id. Throws a TypeError when the
 * body is not a plain JSON object.
 */
export function encodeJsonMessage(body: object, options: SendOptions = {}): Message {
  if (!isPlainObject(body)) throw new TypeError('body must be a plain JSON object')
  checkSendOptions(options)
  const json = JSON.stringify(body)
  const message: Message = {
    body: rhea.message.data_section(Buffer.from(json, 'utf8')),
    content_type: JSON_CONTENT_TYPE,
    message_id: wireId(options.messageId ?? randomUUID()) as Message['message_id'],
  }
  const subject = subjectOf(body, options)
  if (subject !== undefined) message.subject = subject
  if (options.replyTo !== undefined) message.reply_to = options.replyTo
  if (options.correlationId !== undefined) {
    message.correlation_id = wireId(options.correlationId) as Message['correlation_id']
  }
  if (options.durable !== undefined) message.durable = options.durable
  if (options.ttl !== undefined) message.ttl = options.ttl
  if (options.applicationProperties !== undefined) {
    message.application_properties = { ...options.applicationProperties }
  }
  return message
}

interface SectionLike {
  typecode: number
  content: unknown
  multiple?: boolean
}

function isSection(value: unknown): value is SectionLike {
  return typeof value === 'object' && value !== null && 'typecode' in value && 'content' in value
}

/**
 * The body of a received message as message-schema's decoders take it: the bytes of a data section
 * (several data sections are joined), or an amqp-value (string, map, binary, anything else as is).
 */
export function bodyOf(message: Message): unknown {
  const body: unknown = message.body
  if (isSection(body)) {
    if (body.typecode !== DATA_SECTION) return body.content
    if (body.multiple && Array.isArray(body.content)) {
      return Buffer.concat(body.content.filter((part): part is Buffer => Buffer.isBuffer(part)))
    }
    return body.content
  }
  return body
}

/** The body parsed as JSON where it is JSON text (data section or string); otherwise as received. */
export function jsonBodyOf(message: Message): unknown {
  const body = bodyOf(message)
  let text: string | undefined
  if (typeof body === 'string') text = body
  else if (body instanceof Uint8Array)
    text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')
  if (text === undefined) return body
  try {
    return JSON.parse(text)
  } catch {
    return body
  }
}

/**
 * What a receiver knows of a message besides its body. `replyAddress` maps a peer's `reply_to` to
 * the address the bridge sends to (see `replyAddressFor`).
 */
export function metaOf(
  message: Message,
  source: string,
  replyAddress: (replyTo: string) => string = (replyTo) => replyTo,
): ReceivedMeta {
  const meta: ReceivedMeta = { source }
  const messageId: AmqpId | undefined = receivedId(message, 'messageId')
  const correlationId: AmqpId | undefined = receivedId(message, 'correlationId')
  if (messageId !== undefined) {
    meta.messageId = idString(messageId)
    meta.amqpMessageId = messageId
  }
  if (correlationId !== undefined) {
    meta.correlationId = idString(correlationId)
    meta.amqpCorrelationId = correlationId
  }
  if (typeof message.reply_to === 'string' && message.reply_to !== '') {
    meta.replyTo = replyAddress(message.reply_to)
  }
  if (typeof message.subject === 'string') meta.subject = message.subject
  const properties: unknown = message.application_properties
  if (typeof properties === 'object' && properties !== null && !Array.isArray(properties)) {
    meta.applicationProperties = { ...(properties as Record<string, unknown>) }
  }
  return meta
}
