import { randomUUID } from 'node:crypto'
import { JSON_CONTENT_TYPE } from '@session-gateway/message-schema'
import rhea, { type Message } from 'rhea'
import type { ReceivedMeta, SendOptions } from './types.js'

const DATA_SECTION = 0x75

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value)
}

/**
 * Encodes a body as PROTOCOL.md section 2 says: one data section of UTF-8 JSON, content_type
 * application/json, subject = the body's `type`, a unique message_id. Throws a TypeError when the
 * body is not a plain JSON object.
 */
export function encodeJsonMessage(body: object, options: SendOptions = {}): Message & { message_id: string } {
  if (!isPlainObject(body)) throw new TypeError('body must be a plain JSON object')
  const json = JSON.stringify(body)
  const message: Message & { message_id: string } = {
    body: rhea.message.data_section(Buffer.from(json, 'utf8')),
    content_type: JSON_CONTENT_TYPE,
    message_id: options.messageId ?? randomUUID(),
  }
  const subject = options.subject ?? (typeof body.type === 'string' ? body.type : undefined)
  if (subject !== undefined) message.subject = subject
  if (options.replyTo !== undefined) message.reply_to = options.replyTo
  if (options.correlationId !== undefined) message.correlation_id = options.correlationId
  if (options.durable !== undefined) message.durable = options.durable
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

function idString(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (Buffer.isBuffer(value)) return value.length === 16 ? rhea.uuid_to_string(value) : value.toString('hex')
  return String(value)
}

export function metaOf(message: Message, source: string): ReceivedMeta {
  const meta: ReceivedMeta = { source }
  const messageId = idString(message.message_id)
  const correlationId = idString(message.correlation_id)
  if (messageId !== undefined) meta.messageId = messageId
  if (correlationId !== undefined) meta.correlationId = correlationId
  if (typeof message.reply_to === 'string' && message.reply_to !== '') meta.replyTo = message.reply_to
  if (typeof message.subject === 'string') meta.subject = message.subject
  return meta
}
