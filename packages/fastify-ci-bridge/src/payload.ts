import { randomUUID } from 'node:crypto'
import { JSON_CONTENT_TYPE } from '@session-gateway/message-schema'
import rhea from 'rhea'
import type { AmqpIdInput } from './amqp-ids.js'
import { checkSendOptions, encodeJsonMessage, isPlainObject, subjectOf } from './codec.js'
import type { SendOptions } from './types.js'

/**
 * The encoded AMQP 1.0 message (its sections, as the payload of a transfer) of a JSON body, written
 * in one pass into one buffer: what `encodeJsonMessage` + rhea's `message.encode` produce, without
 * rhea's generic typed-value tree (about a tenth of the gateway's CPU per round trip, see
 * docs/PERFORMANCE.md). The sender hands it to rhea as is (`sender.send(payload, tag, 0)`).
 * Sections: header (when `durable` or `ttl` is given), properties (message_id, subject, reply_to,
 * correlation_id, content_type), application_properties (when given), one data section.
 * Application property values other than strings and booleans go through rhea's encoder, which
 * picks the AMQP number type.
 */

// AMQP 1.0 type codes (part 1, section 1.6) and section descriptors (part 3, section 3.2).
const DESCRIBED = 0x00
const SMALL_ULONG = 0x53
const HEADER = 0x70
const PROPERTIES = 0x73
const APPLICATION_PROPERTIES = 0x74
const DATA = 0x75
const NULL = 0x40
const TRUE = 0x41
const FALSE = 0x42
const UINT = 0x70
const ULONG = 0x80
const UUID = 0x98
const VBIN8 = 0xa0
const VBIN32 = 0xb0
const STR8 = 0xa1
const STR32 = 0xb1
const SYM8 = 0xa3
const SYM32 = 0xb3
const LIST8 = 0xc0
const LIST32 = 0xd0
const MAP8 = 0xc1
const MAP32 = 0xd1

/** Encoded strings of few distinct values (subjects, reply addresses), by value. */
const encodedTexts = new Map<string, Buffer>()
const MAX_ENCODED_TEXTS = 256
/** Longer strings are encoded each time: the cache holds at most 256 x 256 characters. */
const MAX_CACHED_LENGTH = 256

/** A string value encoded (code, length, UTF-8 bytes) on its own. */
function encodedText(value: string, small: number, large: number): Buffer {
  const length = Buffer.byteLength(value)
  const out = new Writer(variableSize(length))
  out.text(small, large, value, length)
  return out.buffer
}

/** The encoded `str` value of a string that repeats across messages. */
function cachedText(value: string): Buffer {
  let bytes = encodedTexts.get(value)
  if (bytes === undefined) {
    bytes = encodedText(value, STR8, STR32)
    if (value.length > MAX_CACHED_LENGTH) return bytes
    if (encodedTexts.size >= MAX_ENCODED_TEXTS) encodedTexts.clear()
    encodedTexts.set(value, bytes)
  }
  return bytes
}

/** Bytes of a variable-width value (string, symbol, binary) of `length` bytes, code included. */
const variableSize = (length: number): number => (length > 255 ? 5 : 2) + length
/** Bytes of a list or map whose elements take `body` bytes, code included. */
const compoundSize = (body: number, count: number): number =>
  body + 1 > 255 || count > 255 ? 9 + body : 3 + body

interface EncodedId {
  size: number
  write(out: Writer): void
}

/** Whether every character is ASCII (one UTF-8 byte each); for short strings only (a JS loop). */
function isShortAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false
  return true
}

function encodedId(id: AmqpIdInput): EncodedId {
  if (typeof id === 'string' || id.type === 'string') {
    const text = typeof id === 'string' ? id : id.value
    if (text.length < 256 && isShortAscii(text)) {
      return { size: 2 + text.length, write: (out) => out.ascii(text) }
    }
    const length = Buffer.byteLength(text)
    return { size: variableSize(length), write: (out) => out.text(STR8, STR32, text, length) }
  }
  if (id.type === 'ulong') {
    const value = id.value
    return { size: 9, write: (out) => out.ulong(value) }
  }
  if (id.type === 'uuid') {
    const bytes = rhea.string_to_uuid(id.value)
    return { size: 17, write: (out) => out.fixed(UUID, bytes) }
  }
  const bytes = Buffer.from(id.value.buffer, id.value.byteOffset, id.value.byteLength)
  return { size: variableSize(bytes.length), write: (out) => out.binary(bytes) }
}

/** Writes AMQP values front to back into a buffer sized beforehand. */
class Writer {
  readonly buffer: Buffer
  #at = 0

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size)
  }

  get offset(): number {
    return this.#at
  }

  byte(value: number): void {
    this.buffer[this.#at++] = value
  }

  section(descriptor: number): void {
    this.byte(DESCRIBED)
    this.byte(SMALL_ULONG)
    this.byte(descriptor)
  }

  /** A list or map header: `body` bytes of elements follow. */
  compound(small: number, large: number, body: number, count: number): void {
    if (body + 1 > 255 || count > 255) {
      this.byte(large)
      this.buffer.writeUInt32BE(body + 4, this.#at)
      this.buffer.writeUInt32BE(count, this.#at + 4)
      this.#at += 8
    } else {
      this.byte(small)
      this.byte(body + 1)
      this.byte(count)
    }
  }

  text(small: number, large: number, value: string, length: number): void {
    this.#length(small, large, length)
    this.#at += this.buffer.write(value, this.#at, length, 'utf8')
  }

  /** A str8 of ASCII characters (checked by the caller), written without a call into C++. */
  ascii(value: string): void {
    const buffer = this.buffer
    let at = this.#at
    buffer[at++] = STR8
    buffer[at++] = value.length
    for (let i = 0; i < value.length; i++) buffer[at++] = value.charCodeAt(i)
    this.#at = at
  }

  binary(bytes: Uint8Array): void {
    this.#length(VBIN8, VBIN32, bytes.length)
    this.buffer.set(bytes, this.#at)
    this.#at += bytes.length
  }

  fixed(code: number, bytes: Uint8Array): void {
    this.byte(code)
    this.buffer.set(bytes, this.#at)
    this.#at += bytes.length
  }

  raw(bytes: Uint8Array): void {
    this.buffer.set(bytes, this.#at)
    this.#at += bytes.length
  }

  uint(value: number): void {
    this.byte(UINT)
    this.buffer.writeUInt32BE(value, this.#at)
    this.#at += 4
  }

  ulong(value: bigint): void {
    this.byte(ULONG)
    this.buffer.writeBigUInt64BE(value, this.#at)
    this.#at += 8
  }

  #length(small: number, large: number, length: number): void {
    if (length > 255) {
      this.byte(large)
      this.buffer.writeUInt32BE(length, this.#at)
      this.#at += 4
    } else {
      this.byte(small)
      this.byte(length)
    }
  }
}

/** The content type, a symbol, encoded once (after `Writer`, which it needs). */
const CONTENT_TYPE = encodedText(JSON_CONTENT_TYPE, SYM8, SYM32)

/** A string-keyed map of strings and booleans, sized; undefined when a value needs rhea's number typing. */
function simpleMap(
  properties: Record<string, string | number | boolean>,
): { body: number; entries: Array<[string, number, string | boolean, number]> } | undefined {
  let body = 0
  const entries: Array<[string, number, string | boolean, number]> = []
  for (const key of Object.keys(properties)) {
    const value = properties[key]
    const keyLength = Buffer.byteLength(key)
    body += variableSize(keyLength)
    if (typeof value === 'string') {
      const valueLength = Buffer.byteLength(value)
      body += variableSize(valueLength)
      entries.push([key, keyLength, value, valueLength])
    } else if (typeof value === 'boolean') {
      body += 1
      entries.push([key, keyLength, value, 0])
    } else return undefined
  }
  return { body, entries }
}

/**
 * Encodes a body as PROTOCOL.md section 2 says (one data section of UTF-8 JSON, content_type
 * application/json, subject = the body's `type`, a unique message_id) into the bytes of the AMQP
 * message. Throws a TypeError when the body is not a plain JSON object or an option is invalid,
 * exactly as `encodeJsonMessage`. `replyToText` and `durable` stand for those two options (the
 * bridge passes its defaults for the UM there, not in a copy of `options`).
 */
export function encodeJsonPayload(
  body: object,
  options: SendOptions = {},
  replyToText: string | undefined = options.replyTo,
  durable: boolean | undefined = options.durable,
): Buffer {
  if (!isPlainObject(body)) throw new TypeError('body must be a plain JSON object')
  checkSendOptions(options)
  const properties = options.applicationProperties
  const map = properties === undefined ? undefined : simpleMap(properties)
  if (properties !== undefined && map === undefined) {
    return rhea.message.encode(encodeJsonMessage(body, { ...options, replyTo: replyToText, durable }))
  }
  const json = JSON.stringify(body)
  const jsonLength = Buffer.byteLength(json)
  const messageId = encodedId(options.messageId ?? randomUUID())
  const correlationId = options.correlationId === undefined ? undefined : encodedId(options.correlationId)
  const subjectText = subjectOf(body, options)
  const subject = subjectText === undefined ? undefined : cachedText(subjectText)
  const replyTo = replyToText === undefined ? undefined : cachedText(replyToText)

  // header: [durable, priority, ttl], up to the last field given
  const { ttl } = options
  const headerCount = ttl !== undefined ? 3 : durable !== undefined ? 1 : 0
  const headerBody = headerCount === 0 ? 0 : headerCount === 1 ? 1 : 1 + 1 + 5
  // properties: [message_id, user_id, to, subject, reply_to, correlation_id, content_type]
  const propertiesBody =
    messageId.size +
    2 +
    (subject === undefined ? 1 : subject.length) +
    (replyTo === undefined ? 1 : replyTo.length) +
    (correlationId === undefined ? 1 : correlationId.size) +
    CONTENT_TYPE.length

  const size =
    (headerCount === 0 ? 0 : 3 + compoundSize(headerBody, headerCount)) +
    3 +
    compoundSize(propertiesBody, 7) +
    (map === undefined ? 0 : 3 + compoundSize(map.body, map.entries.length * 2)) +
    3 +
    variableSize(jsonLength)
  const out = new Writer(size)

  if (headerCount > 0) {
    out.section(HEADER)
    out.compound(LIST8, LIST32, headerBody, headerCount)
    out.byte(durable === undefined ? NULL : durable ? TRUE : FALSE)
    if (ttl !== undefined) {
      out.byte(NULL)
      out.uint(ttl)
    }
  }
  out.section(PROPERTIES)
  out.compound(LIST8, LIST32, propertiesBody, 7)
  messageId.write(out)
  out.byte(NULL)
  out.byte(NULL)
  if (subject === undefined) out.byte(NULL)
  else out.raw(subject)
  if (replyTo === undefined) out.byte(NULL)
  else out.raw(replyTo)
  if (correlationId === undefined) out.byte(NULL)
  else correlationId.write(out)
  out.raw(CONTENT_TYPE)
  if (map !== undefined) {
    out.section(APPLICATION_PROPERTIES)
    out.compound(MAP8, MAP32, map.body, map.entries.length * 2)
    for (const [key, keyLength, value, valueLength] of map.entries) {
      out.text(STR8, STR32, key, keyLength)
      if (typeof value === 'string') out.text(STR8, STR32, value, valueLength)
      else out.byte(value ? TRUE : FALSE)
    }
  }
  out.section(DATA)
  out.text(VBIN8, VBIN32, json, jsonLength)
  if (out.offset !== size) throw new Error(`payload encoder: wrote ${out.offset} of ${size} bytes`)
  return out.buffer
}
