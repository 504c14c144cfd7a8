import {
  RESUME_REFUSAL_REASONS,
  type ResumeRefusalReason,
  SESSION_EVENT,
} from '@session-gateway/message-schema'

/** The `session` frame's data, as far as this client reads it. */
export interface SessionFrameInfo {
  sid: string
  resumeToken: string
  resumed: boolean
  replayed?: number
  reason?: ResumeRefusalReason
}

/**
 * A frame from the gateway, sorted by what it is. Fields the client does not know are ignored
 * (a newer gateway may add some); a frame that is none of these is `unknown`.
 */
export type ParsedFrame =
  | { kind: 'session'; session: SessionFrameInfo }
  | { kind: 'event'; event: string; data: unknown; seq: number | undefined }
  | { kind: 'reply'; id: number | string; ok: true; data: unknown }
  | { kind: 'reply'; id: number | string; ok: false; code: string; message: string }
  | { kind: 'unknown'; problem: string }

type Obj = Record<string, unknown>
const isObject = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x)
const isSeq = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1

function readSession(data: unknown): SessionFrameInfo | undefined {
  if (!isObject(data)) return undefined
  const { sid, resumeToken, resumed, replayed, reason } = data
  if (
    typeof sid !== 'string' ||
    sid === '' ||
    typeof resumeToken !== 'string' ||
    typeof resumed !== 'boolean'
  ) {
    return undefined
  }
  const info: SessionFrameInfo = { sid, resumeToken, resumed }
  if (typeof replayed === 'number') info.replayed = replayed
  if (RESUME_REFUSAL_REASONS.includes(reason as ResumeRefusalReason))
    info.reason = reason as ResumeRefusalReason
  return info
}

/** Reads one text frame. Never throws. */
export function parseFrame(text: string): ParsedFrame {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { kind: 'unknown', problem: 'the frame is not JSON' }
  }
  if (!isObject(value)) return { kind: 'unknown', problem: 'the frame is not a JSON object' }
  if (typeof value.event === 'string' && value.event !== '') {
    if (value.event === SESSION_EVENT) {
      const session = readSession(value.data)
      return session
        ? { kind: 'session', session }
        : { kind: 'unknown', problem: 'a session frame without {sid, resumeToken, resumed}' }
    }
    if (value.seq !== undefined && !isSeq(value.seq)) {
      return { kind: 'unknown', problem: `an event frame whose seq is not a whole number >= 1` }
    }
    return { kind: 'event', event: value.event, data: value.data, seq: value.seq }
  }
  const { id } = value
  if (typeof id !== 'number' && typeof id !== 'string') {
    return { kind: 'unknown', problem: 'neither an event frame nor a reply' }
  }
  if (value.ok === true) return { kind: 'reply', id, ok: true, data: value.data }
  if (value.ok === false && isObject(value.error) && typeof value.error.code === 'string') {
    const message = typeof value.error.message === 'string' ? value.error.message : ''
    return { kind: 'reply', id, ok: false, code: value.error.code, message }
  }
  return { kind: 'unknown', problem: 'a reply without ok:true or ok:false with {code, message}' }
}
