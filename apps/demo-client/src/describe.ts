import type { SessionInfo } from '@session-gateway/client'

/** Readable names for the close codes of PROTOCOL.md section 1 (and the browser's own 1005/1006). */
const CLOSE_CODES: Readonly<Record<number, string>> = {
  1000: 'normal close',
  1001: 'the gateway is shutting down',
  1005: 'no code given',
  1006: 'connection lost or refused',
  1008: 'policy violation (origin, bad frames or rate limit)',
  1009: 'frame too large',
  1011: 'internal error on the gateway',
  1012: 'the gateway is restarting',
  1013: 'gateway overloaded, try again later',
}

/** "1001 (the gateway is shutting down)". */
export function describeClose(code: number, reason = ''): string {
  const known =
    CLOSE_CODES[code] ?? (code >= 4000 && code <= 4999 ? 'closed by the application' : 'unknown code')
  const why = reason.trim() === '' ? '' : `: ${reason.trim()}`
  return `${code} (${known}${why})`
}

/** A sentence that tells a person what an error code means for them. */
const ERROR_ADVICE: Readonly<Record<string, string>> = {
  RATE_LIMITED: 'You are sending too fast; slow down for a moment.',
  UNAVAILABLE: 'The gateway could not hand the event to the broker; it was not delivered. Try again shortly.',
  INVALID: 'The gateway refused the frame as invalid.',
  BAD_FRAME: 'The gateway could not read the frame.',
  PAYLOAD_TOO_LARGE: 'The frame is too large for the gateway.',
  INTERNAL: 'The gateway had an internal error.',
  NOT_CONNECTED: 'Not connected to the gateway, so nothing was sent.',
  TIMEOUT: 'No reply came in time; the event may or may not have been delivered.',
  CLOSED: 'The connection closed before the reply came; the event may or may not have been delivered.',
}

export function adviceFor(code: string): string {
  return ERROR_ADVICE[code] ?? 'The request failed.'
}

/** The first characters of a SID, enough to tell people apart in a chat. */
export function shortSid(sid: string): string {
  return sid.length > 8 ? `${sid.slice(0, 8)}…` : sid
}

export function formatRtt(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`
}

/** "resumed (3 missed events replayed)", "new session (expired)", "new session". */
export function sessionNote(info: SessionInfo): string {
  if (info.resumed) return `resumed (${info.replayed} missed event${info.replayed === 1 ? '' : 's'} replayed)`
  return info.reason === undefined ? 'new session' : `new session (${info.reason})`
}
