import type { ResumeRefusalReason } from '@session-gateway/message-schema'
import type { RequestOutcome } from './requests.js'

export interface CloseInfo {
  code: number
  reason: string
}

/**
 * Where the client is. `open` means a session is there (its SID known): requests can be sent.
 * `failures` counts the attempts in a row that ended without a lasting session.
 */
export type ClientState =
  | { status: 'connecting'; attempt: number }
  | { status: 'open'; sid: string }
  | { status: 'reconnecting'; failures: number; delayMs: number; retryAt: number; lastClose: CloseInfo }
  | { status: 'closed'; by: ClosedBy; lastClose?: CloseInfo }

/**
 * Who ended the client: `client` (`close()`), `server` (a final close: 1000, 1008 or 4000-4999
 * sent by the gateway or its backend), `gave-up` (reconnect off, or `maxAttempts` failures in a row).
 */
export type ClosedBy = 'client' | 'server' | 'gave-up'

/**
 * Why a reconnect gave a new session instead of the old one: the gateway's reason (`expired`,
 * `invalid`, `gap`, `unavailable`), or `resume-off` (the gateway offered no resume: its resume
 * window is 0, or this client has `resume: false`).
 */
export type ResetReason = ResumeRefusalReason | 'resume-off'

/** A session the client holds now (reported on every connection that gets one). */
export interface SessionInfo {
  sid: string
  /** True when this connection resumed the session of the previous one. */
  resumed: boolean
  /** Event frames the gateway replays after a resume (those after the last seq received). */
  replayed: number
  /** The SID of the session before this one, when this is not the first. */
  previousSid?: string
  /** Set when a previous session existed and this one is new. */
  reason?: ResetReason
}

/** An event frame from the gateway, after de-duplication. */
export interface ServerEvent {
  event: string
  data: unknown
  /** Position in the session's stream, when the gateway has resume on. */
  seq?: number
}

export type EventHandler = (data: unknown, frame: ServerEvent) => void

/** What `observe()` reports about the client itself. */
export interface ClientObservations {
  /** Every change of `client.state`. */
  state: ClientState
  /** Every connection that got a session (first, resumed, or new after a drop). */
  session: SessionInfo
  /** The old session is back: same SID, rooms and user; missed events follow. Nothing to resync. */
  resumed: { sid: string; replayed: number }
  /** A new session replaced the old one: rejoin rooms, reload state. */
  reset: { sid: string; previousSid: string; reason: ResetReason }
  /** The client stopped for good. */
  closed: { by: ClosedBy; code: number; reason: string }
  /** Every text frame received, as it came (`duplicate`: an event already seen, not delivered again). */
  frame: { text: string; duplicate: boolean }
  /** Every frame sent, as sent. */
  sent: { text: string }
  /** Every request's outcome with its round trip (including the client's own `GET_SID`). */
  settled: RequestOutcome
  /** Something the wire contract does not allow, or an attempt that could not start. */
  warning: { message: string }
}

export interface RequestOptions {
  /** How long to wait for the reply (default: the client's `requestTimeoutMs`). */
  timeoutMs?: number
}
