import type { CiMessage, Result, UmMessage } from './amqp-messages.js'
import type { RequestId } from './common.js'
import {
  CI_MESSAGE_TYPES,
  DEFAULT_MAX_DEPTH,
  PROTOCOL_VERSION,
  TAKEOVER_MESSAGE_TYPES,
  UM_MESSAGE_TYPES,
} from './constants.js'
import { jsonTextExceedsDepth, jsonValueProblem } from './json-depth.js'
import { type TakeoverMessage, takeoverValidators } from './takeover-messages.js'
import {
  ciValidators,
  clientFrameValidator,
  describeFirstError,
  requestIdValidator,
  resultValidator,
  traceValidator,
  umValidators,
} from './validators.js'
import type { ClientFrame } from './ws-frames.js'

export interface DecodeOptions {
  /** Deepest nesting of arrays/objects accepted (default 64). */
  maxDepth?: number
}

export interface DecodeError<Code extends string> {
  code: Code
  message: string
}

export type ClientFrameDecodeResult =
  | { ok: true; frame: ClientFrame }
  | {
      ok: false
      error: DecodeError<'BAD_FRAME' | 'INVALID'>
      /** The frame's `id` when it was usable, so that the error can be a reply frame. */
      id?: RequestId
    }

export type AmqpDecodeResult<T> =
  | { ok: true; message: T }
  | {
      ok: false
      error: DecodeError<'INVALID' | 'UNKNOWN_TYPE'>
      /** The body's `type` when it had a string one. */
      type?: string
    }

const utf8 = new TextDecoder('utf-8', { fatal: true })
const CLIENT_FRAME_FIELDS = new Set(['event', 'data', 'id', 'trace'])

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value)
}

type TextResult = { ok: true; text: string } | { ok: false; message: string }

function toText(input: string | Uint8Array): TextResult {
  if (typeof input === 'string') return { ok: true, text: input }
  try {
    return { ok: true, text: utf8.decode(input) }
  } catch {
    return { ok: false, message: 'not valid UTF-8' }
  }
}

type ParseResult =
  | { ok: true; value: unknown }
  | { ok: false; code: 'BAD_FRAME' | 'INVALID'; message: string }

function parseJsonText(text: string, maxDepth: number): ParseResult {
  if (jsonTextExceedsDepth(text, maxDepth)) {
    return { ok: false, code: 'INVALID', message: `JSON nested deeper than ${maxDepth} levels` }
  }
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (err) {
    return { ok: false, code: 'BAD_FRAME', message: `not valid JSON (${(err as Error).message})` }
  }
}

function explainClientFrame(frame: Record<string, unknown>): string {
  for (const key of Object.keys(frame)) {
    if (!CLIENT_FRAME_FIELDS.has(key))
      return `unknown field "${key}" (a frame has only event, data, id, trace)`
  }
  if (!('event' in frame)) return 'missing "event": a frame needs an event name'
  if (typeof frame.event !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(frame.event)) {
    return '"event" must be a string of 1-64 characters of [A-Za-z0-9_.:-]'
  }
  if ('id' in frame && !requestIdValidator.Check(frame.id)) {
    return '"id" must be an integer 0..2^53-1 or a string of 1-64 characters'
  }
  if ('trace' in frame && !traceValidator.Check(frame.trace)) {
    return '"trace" must be {traceparent, tracestate?} with a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>, lower case)'
  }
  return describeFirstError(clientFrameValidator, frame)
}

/**
 * Decodes one WebSocket text frame (a string, or its raw bytes). Never throws:
 * returns the typed frame, or a coded error a client can be shown.
 */
export function decodeClientFrame(
  input: string | Uint8Array,
  options: DecodeOptions = {},
): ClientFrameDecodeResult {
  const text = toText(input)
  if (!text.ok) return { ok: false, error: { code: 'BAD_FRAME', message: `frame is ${text.message}` } }
  const parsed = parseJsonText(text.text, options.maxDepth ?? DEFAULT_MAX_DEPTH)
  if (!parsed.ok) return { ok: false, error: { code: parsed.code, message: `frame is ${parsed.message}` } }
  const value = parsed.value
  if (!isPlainObject(value)) {
    return { ok: false, error: { code: 'BAD_FRAME', message: 'frame must be a JSON object' } }
  }
  if (clientFrameValidator.Check(value)) return { ok: true, frame: value }
  const error = { code: 'INVALID' as const, message: explainClientFrame(value) }
  return requestIdValidator.Check(value.id) ? { ok: false, error, id: value.id } : { ok: false, error }
}

/** The body of an AMQP message as the bridge hands it over: data-section bytes, an amqp-value string, or a map. */
export type AmqpBody = Uint8Array | string | Record<string, unknown> | unknown

function bodyToObject(
  body: AmqpBody,
  maxDepth: number,
): { ok: true; value: Record<string, unknown> } | { ok: false; message: string } {
  let value: unknown = body
  if (typeof body === 'string' || body instanceof Uint8Array) {
    const text = toText(body)
    if (!text.ok) return { ok: false, message: `body is ${text.message}` }
    const parsed = parseJsonText(text.text, maxDepth)
    if (!parsed.ok) return { ok: false, message: `body is ${parsed.message}` }
    value = parsed.value
  } else if (isPlainObject(body)) {
    // An amqp-value map, decoded by the AMQP library: it must be what a JSON object could be.
    const problem = jsonValueProblem(body, maxDepth)
    if (problem) return { ok: false, message: `body ${problem}` }
  }
  if (!isPlainObject(value)) return { ok: false, message: 'body must be a JSON object' }
  return { ok: true, value }
}

interface CheckValidator<T> {
  Check(value: unknown): value is T
  Errors(value: unknown): ReadonlyArray<{ instancePath: string; message: string; keyword: string }>
}

function decodeTyped<T>(
  body: AmqpBody,
  validators: Readonly<Record<string, CheckValidator<T>>>,
  knownTypes: readonly string[],
  options: DecodeOptions,
): AmqpDecodeResult<T> {
  const obj = bodyToObject(body, options.maxDepth ?? DEFAULT_MAX_DEPTH)
  if (!obj.ok) return { ok: false, error: { code: 'INVALID', message: obj.message } }
  const { type, v } = obj.value
  if (typeof type !== 'string') {
    return { ok: false, error: { code: 'INVALID', message: 'body needs a string "type"' } }
  }
  if (v !== PROTOCOL_VERSION) {
    return {
      ok: false,
      type,
      error: {
        code: 'INVALID',
        message: `"v" must be ${PROTOCOL_VERSION} (got ${JSON.stringify(v) ?? 'none'})`,
      },
    }
  }
  const validator = Object.hasOwn(validators, type) ? validators[type] : undefined
  if (!validator) {
    return {
      ok: false,
      type,
      error: { code: 'UNKNOWN_TYPE', message: `unknown type "${type}" (known: ${knownTypes.join(', ')})` },
    }
  }
  if (validator.Check(obj.value)) return { ok: true, message: obj.value }
  return {
    ok: false,
    type,
    error: { code: 'INVALID', message: `${type}: ${describeFirstError(validator, obj.value)}` },
  }
}

/** Decodes a Communication Interface -> gateway body. Never throws. */
export function decodeCiMessage(body: AmqpBody, options: DecodeOptions = {}): AmqpDecodeResult<CiMessage> {
  return decodeTyped<CiMessage>(body, ciValidators, CI_MESSAGE_TYPES, options)
}

/** Decodes a gateway -> User Manager body (for User Manager implementations and tests). Never throws. */
export function decodeUmMessage(body: AmqpBody, options: DecodeOptions = {}): AmqpDecodeResult<UmMessage> {
  return decodeTyped<UmMessage>(body, umValidators, UM_MESSAGE_TYPES, options)
}

/** Decodes a `RESULT` body. Never throws. */
export function decodeResult(body: AmqpBody, options: DecodeOptions = {}): AmqpDecodeResult<Result> {
  return decodeTyped<Result>(body, { RESULT: resultValidator }, ['RESULT'], options)
}

/** Decodes a body received on a gateway node's takeover address (node to node). Never throws. */
export function decodeTakeoverMessage(
  body: AmqpBody,
  options: DecodeOptions = {},
): AmqpDecodeResult<TakeoverMessage> {
  return decodeTyped<TakeoverMessage>(body, takeoverValidators, TAKEOVER_MESSAGE_TYPES, options)
}
