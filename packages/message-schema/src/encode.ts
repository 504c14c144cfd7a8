import type {
  ClientConnected,
  ClientDetached,
  ClientDisconnected,
  ClientEvent,
  ClientMeta,
  ClientResumed,
  NodeHeartbeat,
  NodeStopped,
  ResultError,
  ResultOk,
} from './amqp-messages.js'
import type { RequestId } from './common.js'
import { PROTOCOL_VERSION, SESSION_EVENT } from './constants.js'
import type { TakeoverGranted, TakeoverRefused, TakeoverRequest } from './takeover-messages.js'
import type { SessionFrameData } from './ws-frames.js'

// ---- WebSocket frames (gateway -> client), as the text to send ----

/** `{"event":…,"data":…}`; `data` left out when undefined. */
export function encodeEventFrame(event: string, data?: unknown): string {
  return JSON.stringify(data === undefined ? { event } : { event, data })
}

/**
 * The event frame `encoded` (the text of {@link encodeEventFrame}) with `"seq":n` added:
 * `{"event":"e","data":1}` -> `{"event":"e","data":1,"seq":7}`. A session's frames are encoded once
 * and numbered per session, so one encoding serves every member of a room.
 */
export function withSeq(encoded: string, seq: number): string {
  return `${encoded.slice(0, -1)},"seq":${seq}}`
}

/** `{"event":"session","data":{sid,resumeToken,resumed,replayed?,reason?}}`: first frame with resume on. */
export function encodeSessionFrame(data: SessionFrameData): string {
  return JSON.stringify({ event: SESSION_EVENT, data })
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

export function clientDetached(fields: SessionFields & { code: number; reason: string }): ClientDetached {
  return { type: 'CLIENT_DETACHED', v: PROTOCOL_VERSION, ...fields, ts: fields.ts ?? Date.now() }
}

export function clientResumed(
  fields: SessionFields & { previousNode: string; replayed: number },
): ClientResumed {
  return { type: 'CLIENT_RESUMED', v: PROTOCOL_VERSION, ...fields, ts: fields.ts ?? Date.now() }
}

interface NodeFields {
  node: string
  instance: string
  /** Defaults to now. */
  ts?: number
}

export function nodeHeartbeat(fields: NodeFields & { sessions: number; intervalMs: number }): NodeHeartbeat {
  return { type: 'NODE_HEARTBEAT', v: PROTOCOL_VERSION, ...fields, ts: fields.ts ?? Date.now() }
}

export function nodeStopped(fields: NodeFields): NodeStopped {
  return { type: 'NODE_STOPPED', v: PROTOCOL_VERSION, ...fields, ts: fields.ts ?? Date.now() }
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

/** A node asks the node named in a resume token for its session (PROTOCOL.md 5.4). */
export function takeoverRequest(fields: Omit<TakeoverRequest, 'type' | 'v'>): TakeoverRequest {
  return { type: 'TAKEOVER_REQUEST', v: PROTOCOL_VERSION, ...fields }
}

export function takeoverGranted(fields: Omit<TakeoverGranted, 'type' | 'v'>): TakeoverGranted {
  return { type: 'TAKEOVER_GRANTED', v: PROTOCOL_VERSION, ...fields }
}

export function takeoverRefused(fields: Omit<TakeoverRefused, 'type' | 'v'>): TakeoverRefused {
  return { type: 'TAKEOVER_REFUSED', v: PROTOCOL_VERSION, ...fields }
}
