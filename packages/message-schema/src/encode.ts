import type {
  ClientConnected,
  ClientDisconnected,
  ClientEvent,
  ClientMeta,
  ResultError,
  ResultOk,
} from './amqp-messages.js'
import type { RequestId } from './common.js'
import { PROTOCOL_VERSION } from './constants.js'

// ---- WebSocket frames (gateway -> client), as the text to send ----

/** `{"event":…,"data":…}`; `data` left out when undefined. */
export function encodeEventFrame(event: string, data?: unknown): string {
  return JSON.stringify(data === undefined ? { event } : { event, data })
}

/** `{"id":…,"ok":true,"data"?:…}` */
export function encodeReplyOk(id: RequestId, data?: unknown): string {
  return JSON.stringify(data === undefined ? { id, ok: true } : { id, ok: true, data })
}

/** `{"id":…,"ok":false,"error":{code,message}}` */
export function encodeReplyError(id: RequestId, code: string, message: string): string {
  return JSON.stringify({ id, ok: false, error: { code, message } })
}

/** `{"event":"error","data":{code,message}}`, for a frame without a usable id. */
export function encodeErrorFrame(code: string, message: string): string {
  return JSON.stringify({ event: 'error', data: { code, message } })
}

// ---- AMQP bodies ----

interface SessionFields {
  sid: string
  node: string
  /** Defaults to now. */
  ts?: number
}

export function clientConnected(fields: SessionFields & { meta: ClientMeta }): ClientConnected {
  return { type: 'CLIENT_CONNECTED', v: PROTOCOL_VERSION, ...fields, ts: fields.ts ?? Date.now() }
}

export function clientDisconnected(
  fields: SessionFields & { code: number; reason: string },
): ClientDisconnected {
  return { type: 'CLIENT_DISCONNECTED', v: PROTOCOL_VERSION, ...fields, ts: fields.ts ?? Date.now() }
}

export function clientEvent(
  fields: SessionFields & { event: string; data?: unknown; requestId?: RequestId },
): ClientEvent {
  const body: ClientEvent = {
    type: 'CLIENT_EVENT',
    v: PROTOCOL_VERSION,
    sid: fields.sid,
    node: fields.node,
    ts: fields.ts ?? Date.now(),
    event: fields.event,
  }
  if (fields.data !== undefined) body.data = fields.data
  if (fields.requestId !== undefined) body.requestId = fields.requestId
  return body
}

export function resultOk(data: Record<string, unknown> = {}): ResultOk {
  return { type: 'RESULT', v: PROTOCOL_VERSION, ok: true, data }
}

export function resultError(code: string, message: string): ResultError {
  return { type: 'RESULT', v: PROTOCOL_VERSION, ok: false, error: { code, message } }
}
