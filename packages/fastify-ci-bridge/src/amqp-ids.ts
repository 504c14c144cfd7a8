import rhea, { type Message } from 'rhea'
import { decodeCommonPayload } from './payload-decode.js'

/** rhea's frame reader (its typings omit it from `types`). */
interface SectionReader {
  remaining(): number
  read(): unknown
}
const Reader = (rhea.types as unknown as { Reader: new (buffer: Buffer) => SectionReader }).Reader

/**
 * An AMQP 1.0 `message_id` / `correlation_id` with its type. AMQP allows four: `ulong`, `uuid`,
 * `binary` and `string`; a reply must carry the request's id with the same type and value (a
 * 16-byte `binary` is not a `uuid`, the ulong 7 is not the string "7").
 */
export type AmqpId =
  | { type: 'string'; value: string }
  | { type: 'ulong'; value: bigint }
  /** Canonical text form, e.g. `0f8fad5b-d9cb-469f-a165-70867728950e`. */
  | { type: 'uuid'; value: string }
  | { type: 'binary'; value: Uint8Array }

/** What callers may give as an id: a plain string is a `string` id. */
export type AmqpIdInput = string | AmqpId

const PROPERTIES_SECTION = 0x73
const MESSAGE_ID_FIELD = 0
const CORRELATION_ID_FIELD = 5
const MAX_ULONG = (1n << 64n) - 1n

interface TypedLike {
  type?: { name?: string }
  value?: unknown
}

/** The ids of received messages with their AMQP types, for the messages that had non-string ids. */
const typedIds = new WeakMap<object, { messageId?: AmqpId; correlationId?: AmqpId }>()

function ulongOf(value: unknown): bigint | undefined {
  if (typeof value === 'number') return BigInt(value)
  if (Buffer.isBuffer(value) && value.length === 8) return value.readBigUInt64BE(0)
  return undefined
}

function fromTyped(field: TypedLike | undefined): AmqpId | undefined {
  const name = field?.type?.name
  const value = field?.value
  switch (name) {
    case 'Ulong0':
      return { type: 'ulong', value: 0n }
    case 'SmallUlong':
    case 'Ulong': {
      const ulong = ulongOf(value)
      return ulong === undefined ? undefined : { type: 'ulong', value: ulong }
    }
    case 'Uuid':
      return Buffer.isBuffer(value) ? { type: 'uuid', value: rhea.uuid_to_string(value) } : undefined
    case 'Vbin8':
    case 'Vbin32':
      return Buffer.isBuffer(value) ? { type: 'binary', value: Buffer.from(value) } : undefined
    case 'Str8':
    case 'Str32':
      return typeof value === 'string' ? { type: 'string', value } : undefined
    default:
      return undefined
  }
}

/** Reads the typed ids from the encoded message (only its properties section is looked at). */
function readTypedIds(encoded: Buffer): { messageId?: AmqpId; correlationId?: AmqpId } {
  const reader = new Reader(encoded)
  while (reader.remaining() > 0) {
    const section = reader.read() as TypedLike & { descriptor?: { value?: unknown } }
    if (Number(section.descriptor?.value) !== PROPERTIES_SECTION) continue
    const fields = Array.isArray(section.value) ? (section.value as TypedLike[]) : []
    const out: { messageId?: AmqpId; correlationId?: AmqpId } = {}
    const messageId = fromTyped(fields[MESSAGE_ID_FIELD])
    const correlationId = fromTyped(fields[CORRELATION_ID_FIELD])
    if (messageId) out.messageId = messageId
    if (correlationId) out.correlationId = correlationId
    return out
  }
  return {}
}

const INSTALLED = Symbol.for('fastify-ci-bridge.typed-ids')

/**
 * rhea unwraps ids to plain JavaScript values (uuid and binary both become a Buffer; a ulong a
 * number, or a Buffer past 2^53), which loses their AMQP type. This wraps rhea's message decoder
 * (once per process) so that, for a message whose id is not a string, the typed ids are read from
 * its properties section as well. String ids (the common case) cost nothing extra. Messages are
 * decoded exactly as before; the typed ids are kept aside, in a WeakMap keyed by the message.
 * Messages of the common shape (string ids, see `payload-decode.ts`) are decoded by the bridge's
 * own decoder into the same `Message` rhea would build, faster; the rest by rhea.
 */
export function installTypedIdDecoding(): void {
  const util = rhea.message as unknown as { decode: (buffer: Buffer) => Message } & {
    [INSTALLED]?: true
  }
  if (util[INSTALLED]) return
  const decode = util.decode
  util.decode = (buffer: Buffer): Message => {
    const common = decodeCommonPayload(buffer)
    if (common !== undefined) return common
    const message = decode(buffer)
    const { message_id: messageId, correlation_id: correlationId } = message
    const plain = (id: unknown) => id === undefined || id === null || typeof id === 'string'
    if (!plain(messageId) || !plain(correlationId)) {
      try {
        typedIds.set(message, readTypedIds(buffer))
      } catch {
        // left as rhea decoded it
      }
    }
    return message
  }
  util[INSTALLED] = true
}

/** The id as received, with its AMQP type. */
export function receivedId(message: Message, field: 'messageId' | 'correlationId'): AmqpId | undefined {
  const typed = typedIds.get(message)?.[field]
  if (typed) return typed
  const raw = field === 'messageId' ? message.message_id : message.correlation_id
  if (typeof raw === 'string') return { type: 'string', value: raw }
  // Not decoded through the wrapper (a message built in process): best effort from the JS value.
  if (typeof raw === 'number') return { type: 'ulong', value: BigInt(raw) }
  if (Buffer.isBuffer(raw)) {
    return raw.length === 16
      ? { type: 'uuid', value: rhea.uuid_to_string(raw) }
      : { type: 'binary', value: Buffer.from(raw) }
  }
  return undefined
}

/** The id as text, for logs and metrics: a ulong in decimal, a uuid canonical, binary in hex. */
export function idString(id: AmqpId): string {
  if (id.type === 'binary') {
    return Buffer.from(id.value.buffer, id.value.byteOffset, id.value.byteLength).toString('hex')
  }
  return String(id.value)
}

/** A key that tells ids of different types apart (the ulong 7 is not the string "7"); string ids as they are. */
export function idKey(id: AmqpId): string {
  return id.type === 'string' ? id.value : `${id.type}:${idString(id)}`
}

/** Why an id cannot be sent, or undefined. */
export function idProblem(id: unknown): string | undefined {
  if (typeof id === 'string') return undefined
  if (typeof id !== 'object' || id === null || !('type' in id) || !('value' in id)) {
    return 'an id must be a string or {type, value}'
  }
  const { type, value } = id as { type: unknown; value: unknown }
  if (type === 'string') return typeof value === 'string' ? undefined : 'a string id needs a string value'
  if (type === 'ulong') {
    return typeof value === 'bigint' && value >= 0n && value <= MAX_ULONG
      ? undefined
      : 'a ulong id needs a bigint from 0 to 2^64-1'
  }
  if (type === 'uuid') {
    return typeof value === 'string' &&
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
      ? undefined
      : 'a uuid id needs its canonical text form'
  }
  if (type === 'binary') return value instanceof Uint8Array ? undefined : 'a binary id needs a Uint8Array'
  return `unknown id type ${String(type)} (ulong, uuid, binary or string)`
}

/** The id as rhea sends it, keeping its type. */
export function wireId(id: AmqpIdInput): unknown {
  if (typeof id === 'string') return id
  switch (id.type) {
    case 'string':
      return id.value
    case 'ulong': {
      const bytes = Buffer.alloc(8)
      bytes.writeBigUInt64BE(id.value)
      return rhea.types.wrap_ulong(bytes)
    }
    case 'uuid':
      return rhea.types.wrap_uuid(rhea.string_to_uuid(id.value))
    case 'binary':
      return rhea.types.wrap_binary(Buffer.from(id.value.buffer, id.value.byteOffset, id.value.byteLength))
  }
}
