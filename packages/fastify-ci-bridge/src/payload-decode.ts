import rhea, { type Message } from 'rhea'

/**
 * A decoder for the messages the gateway receives almost always (header, properties with string
 * ids, application properties of strings and booleans, one data section), which builds exactly the
 * `Message` rhea's `message.decode` builds from the same bytes, without rhea's generic typed-value
 * tree. Anything else (other sections, other value types, non-string ids, timestamps, several data
 * sections, a malformed message) returns undefined: the caller decodes it with rhea.
 */

const HEADER_FIELDS = ['durable', 'priority', 'ttl', 'first_acquirer', 'delivery_count'] as const
const PROPERTY_FIELDS = [
  'message_id',
  'user_id',
  'to',
  'subject',
  'reply_to',
  'correlation_id',
  'content_type',
  'content_encoding',
  'absolute_expiry_time',
  'creation_time',
  'group_id',
  'group_sequence',
  'reply_to_group_id',
] as const
/** The value kinds each field may take here; anything else goes to rhea. */
type Kind = 'boolean' | 'ubyte' | 'uint' | 'string' | 'symbol' | 'none'
const HEADER_KINDS: readonly Kind[] = ['boolean', 'ubyte', 'uint', 'boolean', 'uint']
const PROPERTY_KINDS: readonly Kind[] = [
  'string',
  'none',
  'string',
  'string',
  'string',
  'string',
  'symbol',
  'symbol',
  'none',
  'none',
  'string',
  'uint',
  'string',
]

const HEADER = 0x70
const PROPERTIES = 0x73
const APPLICATION_PROPERTIES = 0x74
const DATA = 0x75

/** Thrown inside the decoder for what it leaves to rhea (caught at its entry). */
const UNSUPPORTED = Symbol('unsupported')

/** rhea's Message class is not exported: new messages share the prototype of one it decoded. */
const MESSAGE_PROTOTYPE: object = Object.getPrototypeOf(
  rhea.message.decode(Buffer.from([0x00, 0x53, 0x77, 0x40])),
) as object

class Cursor {
  readonly #buffer: Buffer
  #at = 0

  constructor(buffer: Buffer) {
    this.#buffer = buffer
  }

  get remaining(): number {
    return this.#buffer.length - this.#at
  }

  byte(): number {
    if (this.#at >= this.#buffer.length) throw UNSUPPORTED
    return this.#buffer[this.#at++] as number
  }

  uint32(): number {
    if (this.#at + 4 > this.#buffer.length) throw UNSUPPORTED
    const value = this.#buffer.readUInt32BE(this.#at)
    this.#at += 4
    return value
  }

  bytes(length: number): Buffer {
    const end = this.#at + length
    if (end > this.#buffer.length) throw UNSUPPORTED
    const out = this.#buffer.subarray(this.#at, end)
    this.#at = end
    return out
  }

  utf8(length: number): string {
    const end = this.#at + length
    if (end > this.#buffer.length) throw UNSUPPORTED
    const out = this.#buffer.toString('utf8', this.#at, end)
    this.#at = end
    return out
  }

  /** A list's or map's element count (its size is checked by reading its elements). */
  compound(list: boolean): number {
    const code = this.byte()
    if (list && code === 0x45) return 0
    if (code === (list ? 0xc0 : 0xc1)) {
      this.byte()
      return this.byte()
    }
    if (code === (list ? 0xd0 : 0xd1)) {
      this.uint32()
      return this.uint32()
    }
    throw UNSUPPORTED
  }

  /** One value of the given kind, or null; undefined never (unsupported codes throw). */
  value(kind: Kind): string | number | boolean | null {
    const code = this.byte()
    if (code === 0x40) return null
    switch (kind) {
      case 'boolean':
        if (code === 0x41) return true
        if (code === 0x42) return false
        // 0x56 (a boolean in a byte) is left to rhea, which reads it as the byte's number
        break
      case 'ubyte':
        if (code === 0x50) return this.byte()
        break
      case 'uint':
        if (code === 0x43) return 0
        if (code === 0x52) return this.byte()
        if (code === 0x70) return this.uint32()
        break
      case 'string':
        if (code === 0xa1) return this.utf8(this.byte())
        if (code === 0xb1) return this.utf8(this.uint32())
        break
      case 'symbol':
        // rhea reads a str where a symbol was expected just the same
        if (code === 0xa3 || code === 0xa1) return this.utf8(this.byte())
        if (code === 0xb3 || code === 0xb1) return this.utf8(this.uint32())
        break
      case 'none':
        break
    }
    throw UNSUPPORTED
  }
}

function readFields(
  cursor: Cursor,
  message: Record<string, unknown>,
  names: readonly string[],
  kinds: readonly Kind[],
): void {
  const count = cursor.compound(true)
  if (count > names.length) throw UNSUPPORTED
  for (let i = 0; i < count; i++) {
    const value = cursor.value(kinds[i] as Kind)
    if (value !== null) message[names[i] as string] = value
  }
}

function readApplicationProperties(cursor: Cursor): Record<string, string | boolean> {
  const count = cursor.compound(false)
  if (count % 2 !== 0) throw UNSUPPORTED
  const out: Record<string, string | boolean> = {}
  for (let i = 0; i < count; i += 2) {
    const key = cursor.value('string')
    if (typeof key !== 'string') throw UNSUPPORTED
    const code = cursor.byte()
    if (code === 0x41) out[key] = true
    else if (code === 0x42) out[key] = false
    else if (code === 0xa1) out[key] = cursor.utf8(cursor.byte())
    else if (code === 0xb1) out[key] = cursor.utf8(cursor.uint32())
    else throw UNSUPPORTED
  }
  return out
}

function readData(cursor: Cursor): Buffer {
  const code = cursor.byte()
  if (code === 0xa0) return cursor.bytes(cursor.byte())
  if (code === 0xb0) return cursor.bytes(cursor.uint32())
  throw UNSUPPORTED
}

/** The message rhea would decode from these bytes, or undefined when it is not of the common shape. */
export function decodeCommonPayload(buffer: Buffer): Message | undefined {
  const message = Object.create(MESSAGE_PROTOTYPE) as Record<string, unknown>
  const cursor = new Cursor(buffer)
  let seen = 0
  try {
    while (cursor.remaining > 0) {
      if (cursor.byte() !== 0x00 || cursor.byte() !== 0x53) return undefined
      const descriptor = cursor.byte()
      const bit = 1 << (descriptor - HEADER)
      if (descriptor < HEADER || descriptor > DATA || (seen & bit) !== 0) return undefined
      seen |= bit
      if (descriptor === HEADER) readFields(cursor, message, HEADER_FIELDS, HEADER_KINDS)
      else if (descriptor === PROPERTIES) readFields(cursor, message, PROPERTY_FIELDS, PROPERTY_KINDS)
      else if (descriptor === APPLICATION_PROPERTIES)
        message.application_properties = readApplicationProperties(cursor)
      else if (descriptor === DATA) message.body = rhea.message.data_section(readData(cursor))
      else return undefined
    }
  } catch (error) {
    if (error === UNSUPPORTED) return undefined
    throw error
  }
  return message as unknown as Message
}
