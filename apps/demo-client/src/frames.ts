import {
  describeFirstError,
  type ErrorFrame,
  type EventFrame,
  errorFrameValidator as errorFrame,
  type ReplyFrame,
  replyFrameValidator as replyFrame,
  serverFrameValidator as serverFrame,
} from '@session-gateway/message-schema'

/** A frame from the gateway, sorted by what it is. `invalid` breaks the wire contract. */
export type Incoming =
  | { kind: 'reply'; frame: ReplyFrame }
  | { kind: 'error'; frame: ErrorFrame }
  | { kind: 'event'; frame: EventFrame }
  | { kind: 'invalid'; reason: string; value?: unknown }

/** Parses and validates one text frame against message-schema's ServerFrame. Never throws. */
export function classifyFrame(text: string): Incoming {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { kind: 'invalid', reason: 'the frame is not JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'invalid', reason: 'the frame is not a JSON object', value }
  }
  if (!serverFrame.Check(value)) {
    return { kind: 'invalid', reason: `not a ServerFrame: ${describeFirstError(serverFrame, value)}`, value }
  }
  if (replyFrame.Check(value)) return { kind: 'reply', frame: value }
  if ('event' in value && value.event === 'error') {
    if (errorFrame.Check(value)) return { kind: 'error', frame: value }
    return { kind: 'invalid', reason: 'an "error" frame needs data {code, message}', value }
  }
  return { kind: 'event', frame: value as EventFrame }
}
