import { CI_MESSAGE_TYPES, GATEWAY_EVENT_NAMES } from '@session-gateway/message-schema'
import type { Prng } from './prng.js'

// ---------------------------------------------------------------------------------------------
// A generator of WebSocket frames and AMQP bodies for the gateway, and an oracle written from
// PROTOCOL.md (not from the gateway's decoders) that says what each one must get.
// ---------------------------------------------------------------------------------------------

const MAX_DEPTH = 64
const EVENT = /^[A-Za-z0-9_.:-]{1,64}$/
const SID = /^[A-Za-z0-9_-]{22,128}$/
const EVENT_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-'
/** Strings that are hard on decoders, loggers and encoders. */
const ODD_STRINGS = [
  '',
  '\u0000',
  '\u0000\u0001\u001f',
  '\ud800', // lone high surrogate
  '\udc00', // lone low surrogate
  '\udbff\udfff', // U+10FFFF
  '\uffff\ufffe',
  '\ufeff', // BOM
  '\u200b\u200c\u200d', // zero width
  '\u202e\u202d', // bidi overrides
  '\u2028\u2029', // JS line separators
  'e\u0301\u0301\u0301', // combining marks
  '👩‍👩‍👧‍👦🏳️‍🌈',
  '𝕳𝖊𝖑𝖑𝖔',
  'Ω≈ç√∫˜µ≤≥÷',
  'ﷺ',
  '"\\/\b\f\n\r\t',
  '</script><script>alert(1)</script>',
  "'; DROP TABLE sessions; --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log-injection probe, meant literally
  '${jndi:ldap://127.0.0.1/x}',
  '%s%s%s%n',
  '__proto__',
  'constructor',
  'A'.repeat(22),
]
const HUGE_NUMBERS = [
  '1e400',
  '-1e400',
  '1e-400',
  '9007199254740992',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890123456789',
  '0.1e1',
  '-0',
  '1E+2',
  '4.9e-324',
  '1.7976931348623157e308',
]

export type WsFrame =
  | { kind: 'text'; bytes: Buffer; category: string }
  | { kind: 'binary'; bytes: Buffer; category: string }

/** What a frame must get. */
export type WsExpectation =
  | { type: 'none' }
  /** An error frame `{event:"error",data:{code}}`; `alt` is also acceptable (see the oracle). */
  | { type: 'error'; code: string; alt?: string }
  /** A reply frame for this id (JSON key), ok or with this error code. */
  | { type: 'reply'; idKey: string; outcome: string }
  /** `{event:"GET_SID",data:{sid}}`. */
  | { type: 'sid-event' }
  /** The connection is closed with this code. */
  | { type: 'close'; code: number }

function randomString(prng: Prng, maxLength: number): string {
  const length = prng.int(0, maxLength)
  let out = ''
  for (let i = 0; i < length; i++) {
    const r = prng.next()
    if (r < 0.6) out += String.fromCharCode(prng.int(0x20, 0x7e))
    else if (r < 0.75) out += prng.pick(ODD_STRINGS)
    else if (r < 0.9) out += String.fromCodePoint(prng.int(0xa0, 0xd7ff))
    else out += String.fromCodePoint(prng.int(0x10000, 0x10ffff))
  }
  return out
}

/** PROTOCOL.md: names a backend may not give an event (the gateway's frames, Socket.IO's connection events). */
const GATEWAY_OWN_EVENTS: readonly string[] = GATEWAY_EVENT_NAMES

/** An event name a CI message may carry, now and then one the gateway keeps for itself. */
function backendEventName(prng: Prng): string {
  return prng.chance(0.03) ? prng.pick(GATEWAY_OWN_EVENTS) : eventName(prng)
}

function eventName(prng: Prng): string {
  if (prng.chance(0.3)) return prng.pick(['chat.send', 'a', 'x:y', 'fuzz-1', 'room.join', 'A_b.c:d-e'])
  const length = prng.int(1, 64)
  let out = ''
  for (let i = 0; i < length; i++) out += EVENT_CHARS[prng.int(0, EVENT_CHARS.length - 1)]
  return out
}

function badEventName(prng: Prng): unknown {
  return prng.pick<unknown>([
    '',
    'x'.repeat(65),
    'with space',
    'ünïcode',
    '😀',
    'a/b',
    'a\u0000',
    42,
    null,
    true,
    ['chat.send'],
    { event: 'x' },
  ])
}

/** JSON text of a random value (written by hand so that it can hold number literals JSON.stringify never makes). */
export function jsonText(prng: Prng, depth = 0): string {
  const r = prng.next()
  if (depth > 4 || r < 0.45) {
    const s = prng.next()
    if (s < 0.2) return String(prng.int(-1e6, 1e6))
    if (s < 0.3) return String(prng.next() * 1e6 - 5e5)
    if (s < 0.4) return prng.pick(HUGE_NUMBERS)
    if (s < 0.5) return prng.pick(['true', 'false', 'null'])
    return JSON.stringify(prng.chance(0.3) ? prng.pick(ODD_STRINGS) : randomString(prng, 24))
  }
  if (r < 0.7) {
    const n = prng.int(0, 5)
    return `[${Array.from({ length: n }, () => jsonText(prng, depth + 1)).join(',')}]`
  }
  const n = prng.int(0, 5)
  const keys = Array.from({ length: n }, () =>
    JSON.stringify(prng.chance(0.2) ? prng.pick(ODD_STRINGS) : randomString(prng, 10)),
  )
  return `{${keys.map((k) => `${k}:${jsonText(prng, depth + 1)}`).join(',')}}`
}

function requestIdText(prng: Prng, counter: () => number): string {
  const r = prng.next()
  if (r < 0.6) return String(counter())
  if (r < 0.9) return JSON.stringify(`s-${counter()}-${randomString(prng, 8)}`.slice(0, 64))
  return prng.pick(['0', '9007199254740991', JSON.stringify('x'.repeat(64)), JSON.stringify('😀')])
}

function badRequestIdText(prng: Prng): string {
  return prng.pick([
    '-1',
    '1.5',
    '9007199254740992',
    '1e400',
    '""',
    JSON.stringify('x'.repeat(65)),
    'null',
    'true',
    '[1]',
    '{"id":1}',
  ])
}

/** A well-formed frame's JSON text. */
export function validFrameText(prng: Prng, counter: () => number): string {
  const parts: string[] = []
  const event = prng.chance(0.04) ? 'GET_SID' : eventName(prng)
  parts.push(`"event":${JSON.stringify(event)}`)
  if (prng.chance(0.7)) parts.push(`"data":${jsonText(prng)}`)
  if (prng.chance(0.75)) parts.push(`"id":${requestIdText(prng, counter)}`)
  // Key order does not matter.
  for (let i = parts.length - 1; i > 0; i--) {
    const j = prng.int(0, i)
    ;[parts[i], parts[j]] = [parts[j] as string, parts[i] as string]
  }
  const ws = () => (prng.chance(0.1) ? prng.pick([' ', '\n', '\t', '\r\n ']) : '')
  return `${ws()}{${ws()}${parts.join(`${ws()},${ws()}`)}${ws()}}${ws()}`
}

function nested(prng: Prng, levels: number, inner: string): string {
  let open = ''
  let close = ''
  for (let i = 0; i < levels; i++) {
    if (prng.chance(0.5)) {
      open += '['
      close = `]${close}`
    } else {
      open += '{"k":'
      close = `}${close}`
    }
  }
  return `${open}${inner}${close}`
}

const MUTATION_CHARS = '{}[]":,\\ 0123456789abcdefeEtrunl-+.\u0000\u00ff😀'

function mutate(prng: Prng, text: string): string {
  const chars = [...text]
  const n = prng.int(1, 4)
  for (let i = 0; i < n; i++) {
    const at = prng.int(0, Math.max(0, chars.length - 1))
    const op = prng.int(0, 3)
    const c = [...MUTATION_CHARS][prng.int(0, [...MUTATION_CHARS].length - 1)] as string
    if (op === 0) chars[at] = c
    else if (op === 1) chars.splice(at, 0, c)
    else if (op === 2) chars.splice(at, 1)
    else chars.splice(at, 0, ...chars.slice(at, at + prng.int(1, 8)))
  }
  return chars.join('')
}

/** One generated frame, with its category (for the report). */
export function generateFrame(prng: Prng, maxPayload: number, counter: () => number): WsFrame {
  const text = (t: string, category: string): WsFrame => ({
    kind: 'text',
    bytes: Buffer.from(t, 'utf8'),
    category,
  })
  const category = prng.weighted<string>([
    [34, 'valid'],
    [7, 'binary'],
    [7, 'random-text'],
    [10, 'truncated'],
    [15, 'mutated'],
    [11, 'structural'],
    [4, 'deep'],
    [4, 'long'],
    [4, 'huge-numbers'],
    [2, 'odd-unicode'],
    [1, 'invalid-utf8'],
    [1, 'empty'],
  ])
  switch (category) {
    case 'valid':
      return text(validFrameText(prng, counter), category)
    case 'binary': {
      const bytes = prng.chance(0.5)
        ? prng.bytes(prng.int(0, 2000))
        : Buffer.from(validFrameText(prng, counter), 'utf8')
      return { kind: 'binary', bytes, category }
    }
    case 'random-text':
      return text(randomString(prng, 200), category)
    case 'truncated': {
      const t = validFrameText(prng, counter)
      const chars = [...t]
      return text(chars.slice(0, prng.int(0, Math.max(0, chars.length - 1))).join(''), category)
    }
    case 'mutated':
      return text(mutate(prng, validFrameText(prng, counter)), category)
    case 'structural': {
      const id = prng.chance(0.5) ? `,"id":${requestIdText(prng, counter)}` : ''
      return text(
        prng.pick([
          () => `[${validFrameText(prng, counter)}]`,
          () => JSON.stringify(validFrameText(prng, counter)),
          () => jsonText(prng),
          () => 'null',
          () => '42',
          () => `{"data":1${id}}`,
          () => `{"event":${JSON.stringify(badEventName(prng))}${id}}`,
          () => `{"event":"chat.send","id":${badRequestIdText(prng)}}`,
          () => `{"event":"chat.send","sid":"${'B'.repeat(22)}"${id}}`,
          () => `{"event":"chat.send","__proto__":{"admin":true}${id}}`,
          () => `{"event":"chat.send","constructor":{"prototype":{}}${id}}`,
          () => `{"Event":"chat.send"${id}}`,
          () => `{"event":"chat.send","event":"GET_SID"${id}}`,
          () => `{"event":"chat.send","data":${validFrameText(prng, counter)}${id}}`,
          () => `{"event":"chat.send","ok":true${id}}`,
        ])(),
        category,
      )
    }
    case 'deep': {
      const levels = prng.chance(0.5) ? prng.int(55, 70) : prng.int(70, 20_000)
      const id = prng.chance(0.5) ? `,"id":${requestIdText(prng, counter)}` : ''
      return text(`{"event":"deep","data":${nested(prng, levels, jsonText(prng, 5))}${id}}`, category)
    }
    case 'long': {
      const size = prng.chance(0.7)
        ? prng.int(1000, maxPayload - 200)
        : prng.int(maxPayload - 100, maxPayload * 2)
      const id = prng.chance(0.5) ? `,"id":${requestIdText(prng, counter)}` : ''
      if (prng.chance(0.2)) return text(`{"event":"${'e'.repeat(Math.min(size, 70_000))}"${id}}`, category)
      return text(`{"event":"long","data":${JSON.stringify('z'.repeat(size))}${id}}`, category)
    }
    case 'huge-numbers': {
      const n = prng.pick(HUGE_NUMBERS)
      return text(
        prng.pick([
          () => `{"event":"num","data":${n},"id":${counter()}}`,
          () => `{"event":"num","id":${n}}`,
          () => `{"event":"num","data":[${n},${prng.pick(HUGE_NUMBERS)}],"id":${counter()}}`,
        ])(),
        category,
      )
    }
    case 'odd-unicode': {
      const s = prng.pick(ODD_STRINGS)
      return text(
        prng.pick([
          () => `{"event":"uni","data":${JSON.stringify(s)},"id":${counter()}}`,
          () => `{"event":"uni","data":{${JSON.stringify(s)}:${JSON.stringify(s)}}}`,
          // Raw (not escaped) in the text: lone surrogates become U+FFFD when encoded as UTF-8.
          () =>
            `{"event":"uni","data":"${[...s].filter((c) => c !== '"' && c !== '\\' && c.charCodeAt(0) >= 0x20).join('')}","id":${counter()}}`,
          () => `{"event":"uni","id":${JSON.stringify(s || 'x')}}`,
        ])(),
        category,
      )
    }
    case 'invalid-utf8': {
      const valid = Buffer.from(`{"event":"utf","data":"`, 'utf8')
      const bad = prng.pick([
        Buffer.from([0xff]),
        Buffer.from([0xc3, 0x28]),
        Buffer.from([0xe2, 0x82]),
        Buffer.from([0xed, 0xa0, 0x80]),
        Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
        Buffer.from([0xc0, 0xaf]),
      ])
      return { kind: 'text', bytes: Buffer.concat([valid, bad, Buffer.from('"}')]), category }
    }
    default:
      return text('', category)
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function depthOf(value: unknown): number {
  // Iterative: the values come from JSON.parse of up to 20,000 levels.
  let max = 0
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [node, d] = stack.pop() as [unknown, number]
    if (node === null || typeof node !== 'object') continue
    if (d + 1 > max) max = d + 1
    for (const child of Object.values(node)) stack.push([child, d + 1])
  }
  return max
}

function openBrackets(text: string): number {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 123 || c === 91) n++
  }
  return n
}

/** String lengths in PROTOCOL.md count characters (Unicode code points), as JSON Schema does. */
function chars(s: string): number {
  return [...s].length
}

export function isRequestId(v: unknown): boolean {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER
  return typeof v === 'string' && chars(v) >= 1 && chars(v) <= 64
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** What PROTOCOL.md says the frame must get. */
export function expectFrame(frame: WsFrame, maxPayload: number): WsExpectation {
  if (frame.bytes.length > maxPayload) return { type: 'close', code: 1009 }
  if (frame.kind === 'binary') return { type: 'error', code: 'BAD_FRAME' }
  let text: string
  try {
    text = utf8.decode(frame.bytes)
  } catch {
    // RFC 6455: a text frame that is not UTF-8 fails the connection.
    return { type: 'close', code: 1007 }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    // Not JSON: BAD_FRAME. A decoder that refuses deep input before parsing may say INVALID.
    return openBrackets(text) > MAX_DEPTH
      ? { type: 'error', code: 'BAD_FRAME', alt: 'INVALID' }
      : { type: 'error', code: 'BAD_FRAME' }
  }
  if (depthOf(value) > MAX_DEPTH) return { type: 'error', code: 'INVALID' }
  if (!isPlainObject(value)) return { type: 'error', code: 'BAD_FRAME' }
  const keysOk = Object.keys(value).every((k) => k === 'event' || k === 'data' || k === 'id')
  const idOk = !('id' in value) || isRequestId(value.id)
  const eventOk =
    typeof value.event === 'string' && EVENT.test(value.event) && !GATEWAY_OWN_EVENTS.includes(value.event)
  const usableId = 'id' in value && isRequestId(value.id) ? JSON.stringify(value.id) : undefined
  if (!keysOk || !idOk || !eventOk) {
    return usableId === undefined
      ? { type: 'error', code: 'INVALID' }
      : { type: 'reply', idKey: usableId, outcome: 'INVALID' }
  }
  if (value.event === 'GET_SID') {
    return usableId === undefined ? { type: 'sid-event' } : { type: 'reply', idKey: usableId, outcome: 'ok' }
  }
  return usableId === undefined ? { type: 'none' } : { type: 'reply', idKey: usableId, outcome: 'ok' }
}

/** True when a valid frame is forwarded to the UM (CLIENT_EVENT). */
export function isForwarded(frame: WsFrame, expectation: WsExpectation): boolean {
  if (expectation.type === 'none') return true
  if (expectation.type !== 'reply' || expectation.outcome !== 'ok') return false
  const value = JSON.parse(frame.bytes.toString('utf8')) as { event: string }
  return value.event !== 'GET_SID'
}

// ---------------------------------------------------------------------------------------------
// AMQP bodies for the node address
// ---------------------------------------------------------------------------------------------

export type CiBody =
  | { section: 'data'; bytes: Buffer }
  | { section: 'value'; value: unknown }
  | { section: 'sequence'; value: unknown[] }
  | { section: 'none' }

export interface CiCase {
  body: CiBody
  category: string
  /** What the RESULT must be: 'ok', an error code, or one of several. */
  expected: string[]
  /** The node rejects (settles `rejected`) what cannot be decoded or validated. */
  rejected: boolean
  /** A frame the observer session must receive. */
  toObserver: boolean
}

// Every CI type the contract has: a new one is fuzzed without touching this file.
const CI_TYPES: readonly string[] = CI_MESSAGE_TYPES

function randomSid(prng: Prng): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  let out = ''
  for (let i = 0; i < 22; i++) out += chars[prng.int(0, 63)]
  return out
}

function validCi(prng: Prng, observerSid: string): Record<string, unknown> {
  const type = prng.pick(CI_TYPES)
  const sid = randomSid(prng)
  const data = () => (prng.chance(0.7) ? { data: JSON.parse(jsonText(prng)) as unknown } : {})
  switch (type) {
    case 'EMIT':
      return {
        type,
        v: 1,
        sid: prng.chance(0.2) ? observerSid : sid,
        event: backendEventName(prng),
        ...data(),
      }
    case 'ROOM_EMIT':
      return {
        type,
        v: 1,
        room: `fuzz-${randomString(prng, 10)}` || 'r',
        event: backendEventName(prng),
        ...data(),
      }
    case 'BROADCAST':
      return { type, v: 1, event: backendEventName(prng), ...data() }
    case 'JOIN':
    case 'LEAVE':
      return { type, v: 1, sid, room: 'fuzz-room' }
    case 'DISCONNECT':
      return { type, v: 1, sid, code: prng.pick([1000, 4000, 4999]), reason: randomString(prng, 30) }
    case 'SESSION_INFO':
      return { type, v: 1, sid }
    // The observer has no user (no authentication in the fuzz run): these never reach it.
    case 'EMIT_USER':
      return { type, v: 1, user: randomString(prng, 40) || 'u', event: backendEventName(prng), ...data() }
    case 'DISCONNECT_USER':
      return { type, v: 1, user: randomString(prng, 40) || 'u', code: prng.pick([1000, 4000, 4999]) }
    case 'USER_INFO':
      return { type, v: 1, user: randomString(prng, 40) || 'u' }
    case 'ROOM_INFO':
      return {
        type,
        v: 1,
        room: 'fuzz-room',
        ...(prng.chance(0.5) ? { limit: prng.pick([0, 1, 1000, 10_000]) } : {}),
      }
    default:
      return { type: 'PING', v: 1, ...(prng.chance(0.2) ? { extra: 'ignored' } : {}) }
  }
}

/** The RESULT PROTOCOL.md asks for a decoded body (written independently of the gateway's schemas). */
export function expectCi(value: unknown, observerSid: string): { expected: string[]; toObserver: boolean } {
  const invalid = { expected: ['INVALID'], toObserver: false }
  if (!isPlainObject(value) || depthOf(value) > MAX_DEPTH) return invalid
  if (typeof value.type !== 'string') return invalid
  if (value.v !== 1)
    return CI_TYPES.includes(value.type)
      ? invalid
      : { expected: ['INVALID', 'UNKNOWN_TYPE'], toObserver: false }
  if (!CI_TYPES.includes(value.type)) return { expected: ['UNKNOWN_TYPE'], toObserver: false }
  const sidOk = typeof value.sid === 'string' && SID.test(value.sid)
  const eventOk =
    typeof value.event === 'string' && EVENT.test(value.event) && !GATEWAY_OWN_EVENTS.includes(value.event)
  const roomOk = typeof value.room === 'string' && chars(value.room) >= 1 && chars(value.room) <= 128
  const userOk = typeof value.user === 'string' && chars(value.user) >= 1 && chars(value.user) <= 256
  const known = value.sid === observerSid
  const targeted = known ? 'ok' : 'SESSION_NOT_FOUND'
  switch (value.type) {
    case 'EMIT':
      return sidOk && eventOk ? { expected: [targeted], toObserver: known } : invalid
    case 'ROOM_EMIT': {
      const exceptOk =
        !('exceptSid' in value) || (typeof value.exceptSid === 'string' && SID.test(value.exceptSid))
      return roomOk && eventOk && exceptOk ? { expected: ['ok'], toObserver: false } : invalid
    }
    case 'BROADCAST':
      return eventOk ? { expected: ['ok'], toObserver: true } : invalid
    case 'JOIN':
    case 'LEAVE':
      return sidOk && roomOk ? { expected: [targeted], toObserver: false } : invalid
    case 'EMIT_USER':
      return userOk && eventOk ? { expected: ['ok'], toObserver: false } : invalid
    case 'USER_INFO':
      return userOk ? { expected: ['ok'], toObserver: false } : invalid
    case 'ROOM_INFO': {
      const l = value.limit
      const limitOk =
        !('limit' in value) || (Number.isInteger(l) && (l as number) >= 0 && (l as number) <= 10_000)
      return roomOk && limitOk ? { expected: ['ok'], toObserver: false } : invalid
    }
    case 'DISCONNECT_USER':
    case 'DISCONNECT': {
      const c = value.code
      const codeOk =
        !('code' in value) ||
        c === 1000 ||
        (Number.isInteger(c) && (c as number) >= 4000 && (c as number) <= 4999)
      const reasonOk =
        !('reason' in value) || (typeof value.reason === 'string' && chars(value.reason) <= 123)
      if (value.type === 'DISCONNECT_USER')
        return userOk && codeOk && reasonOk ? { expected: ['ok'], toObserver: false } : invalid
      return sidOk && codeOk && reasonOk ? { expected: [targeted], toObserver: false } : invalid
    }
    case 'SESSION_INFO':
      return sidOk ? { expected: [targeted], toObserver: false } : invalid
    default:
      return { expected: ['ok'], toObserver: false }
  }
}

/**
 * One generated CI case. Valid messages never target the observer with DISCONNECT or JOIN.
 * Not generated, because the broker does not carry them intact (RabbitMQ 3.10.8, seen here): a body
 * of several data sections (they reach the consumer in reverse order) and an amqp-value list body
 * (the broker's AMQP 1.0 plugin crashes and ends the sender's session).
 */
/** Settled `rejected` by the gateway: what cannot be decoded or breaks a rule (a SESSION_NOT_FOUND is accepted). */
function isRejected(expected: readonly string[]): boolean {
  return !expected.some((x) => x === 'ok' || x === 'SESSION_NOT_FOUND')
}

export function generateCi(prng: Prng, observerSid: string): CiCase {
  const category = prng.weighted<string>([
    [25, 'valid'],
    [8, 'valid-map'],
    [5, 'valid-string'],
    [8, 'random-bytes'],
    [12, 'mutated'],
    [6, 'truncated'],
    [6, 'wrong-version'],
    [5, 'unknown-type'],
    [8, 'bad-field'],
    [4, 'deep'],
    [5, 'non-object-value'],
    [2, 'sequence'],
    [1, 'no-body'],
    [2, 'huge-numbers'],
  ])
  const json = (text: string): CiBody => ({ section: 'data', bytes: Buffer.from(text, 'utf8') })
  const fromText = (text: string, cat: string): CiCase => {
    let value: unknown
    let parsed = true
    try {
      value = JSON.parse(text)
    } catch {
      parsed = false
    }
    const e = parsed ? expectCi(value, observerSid) : { expected: ['INVALID'], toObserver: false }
    // A mutation may aim DISCONNECT or JOIN at the observer: never send those.
    if (
      isPlainObject(value) &&
      (value.type === 'DISCONNECT' || value.type === 'JOIN') &&
      value.sid === observerSid
    ) {
      return fromText('{"type":"PING","v":1}', cat)
    }
    return { body: json(text), category: cat, ...e, rejected: isRejected(e.expected) }
  }
  switch (category) {
    case 'valid':
      return fromText(JSON.stringify(validCi(prng, observerSid)), category)
    case 'valid-map': {
      const value = validCi(prng, observerSid)
      // rhea writes a map; JSON's numbers survive it, so keep data simple.
      if ('data' in value) value.data = prng.pick([1, 'text', true, null, [1, 2], { a: 'b' }])
      const e = expectCi(value, observerSid)
      // "Valid" in form: the fields may still break a rule (a reason of over 123 characters).
      return { body: { section: 'value', value }, category, ...e, rejected: isRejected(e.expected) }
    }
    case 'valid-string': {
      const text = JSON.stringify(validCi(prng, observerSid))
      const e = expectCi(JSON.parse(text), observerSid)
      return { body: { section: 'value', value: text }, category, ...e, rejected: isRejected(e.expected) }
    }
    case 'random-bytes': {
      const bytes = prng.bytes(prng.int(0, 500))
      let text: string | undefined
      try {
        text = utf8.decode(bytes)
      } catch {
        text = undefined
      }
      if (text !== undefined) return { ...fromText(text, category), body: { section: 'data', bytes } }
      return {
        body: { section: 'data', bytes },
        category,
        expected: ['INVALID'],
        rejected: true,
        toObserver: false,
      }
    }
    case 'mutated':
      return fromText(mutate(prng, JSON.stringify(validCi(prng, observerSid))), category)
    case 'truncated': {
      const t = JSON.stringify(validCi(prng, observerSid))
      return fromText(t.slice(0, prng.int(0, t.length - 1)), category)
    }
    case 'wrong-version': {
      const value = validCi(prng, observerSid)
      const v = prng.pick<unknown>([0, 2, '1', 1.5, null, true, [1], undefined])
      if (v === undefined) delete value.v
      else value.v = v
      return fromText(JSON.stringify(value), category)
    }
    case 'unknown-type': {
      const type = prng.pick([
        'FROBNICATE',
        'emit',
        'RESULT',
        'CLIENT_EVENT',
        '',
        '__proto__',
        'constructor',
        'toString',
        'hasOwnProperty',
        'PING ',
      ])
      return fromText(JSON.stringify({ type, v: 1, sid: randomSid(prng) }), category)
    }
    case 'bad-field': {
      const value = validCi(prng, observerSid)
      const field = prng.pick([
        'sid',
        'event',
        'room',
        'code',
        'reason',
        'exceptSid',
        'type',
        'user',
        'limit',
      ])
      value[field] = prng.pick<unknown>([
        null,
        42,
        '',
        'x'.repeat(200),
        ['a'],
        { a: 1 },
        true,
        'short',
        1001,
        3999,
        5000,
      ])
      return fromText(JSON.stringify(value), category)
    }
    case 'deep': {
      const levels = prng.int(60, 5000)
      return fromText(
        `{"type":"BROADCAST","v":1,"event":"deep","data":${nested(prng, levels, '1')}}`,
        category,
      )
    }
    case 'non-object-value': {
      // Not a top-level list: RabbitMQ 3.10's AMQP 1.0 plugin crashes on an amqp-value list body and
      // ends the *sender's* session (seen here), so such a message never reaches a gateway.
      const value = prng.pick<unknown>([
        42,
        'not json',
        '[1,2]',
        true,
        null,
        1.5,
        Buffer.from('{"type":"PING","v":1}'),
        Buffer.from([0xff, 0xfe]),
      ])
      if (Buffer.isBuffer(value)) {
        let text: string | undefined
        try {
          text = utf8.decode(value)
        } catch {
          text = undefined
        }
        const e =
          text === undefined
            ? { expected: ['INVALID'], toObserver: false }
            : (() => {
                try {
                  return expectCi(JSON.parse(text), observerSid)
                } catch {
                  return { expected: ['INVALID'], toObserver: false }
                }
              })()
        return { body: { section: 'value', value }, category, ...e, rejected: !e.expected.includes('ok') }
      }
      if (typeof value === 'string') {
        let e: { expected: string[]; toObserver: boolean }
        try {
          e = expectCi(JSON.parse(value), observerSid)
        } catch {
          e = { expected: ['INVALID'], toObserver: false }
        }
        return { body: { section: 'value', value }, category, ...e, rejected: !e.expected.includes('ok') }
      }
      return {
        body: { section: 'value', value },
        category,
        expected: ['INVALID'],
        rejected: true,
        toObserver: false,
      }
    }
    case 'sequence':
      return {
        body: { section: 'sequence', value: [{ type: 'PING', v: 1 }] },
        category,
        expected: ['INVALID'],
        rejected: true,
        toObserver: false,
      }
    case 'no-body':
      return { body: { section: 'none' }, category, expected: ['INVALID'], rejected: true, toObserver: false }
    default: {
      const n = prng.pick(HUGE_NUMBERS)
      return fromText(
        prng.pick([
          `{"type":"PING","v":${prng.pick(['1.0', '1e0', '10e-1', '1.0000000000000001', n])}}`,
          `{"type":"DISCONNECT","v":1,"sid":"${randomSid(prng)}","code":${n}}`,
          `{"type":"BROADCAST","v":1,"event":"n","data":${n}}`,
        ]),
        category,
      )
    }
  }
}
