import type { ResumeRefusalReason } from '@session-gateway/message-schema'
import type { FastifyBaseLogger } from 'fastify'
import type { RawData } from 'ws'
import type { Session, UserClaims } from './types.js'

/** `readyState` values, as WebSocket's. */
export const TransportState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const

/** What a session learns of its connection when it opens or resumes (instead of the `session` frame). */
export interface TransportOpened {
  sid: string
  /** The same session on a new connection (resume), with `replayed` frames about to follow. */
  resumed: boolean
  replayed?: number
  /** Why a resume was refused (a new session). */
  reason?: ResumeRefusalReason
  /**
   * With resume on, for a new session: its resume key, a credential good for every resume of this
   * session while it lives (not single use, unlike the `session` frame's token). Undefined on a resume:
   * the key the client presented stays good.
   */
  resumeKey?: string
}

/**
 * A connection of a session that is not a WebSocket of this plugin's route (e.g. a Socket.IO
 * connection): the subset of a `ws` WebSocket the session uses, which a `ws` WebSocket has as it is.
 * Events: `message` (data, isBinary), `pong`, `error` (err), `close` (code, reason) once.
 */
export interface SessionTransport {
  /** {@link TransportState}. */
  readonly readyState: number
  /** Bytes queued and not yet written to the client. */
  readonly bufferedAmount: number
  /** One frame of the native wire contract (an event, reply or error frame, as JSON text). */
  send(text: string): void
  /** Starts a close with a WebSocket close code; `close` is emitted once it is closed. */
  close(code: number, reason: string): void
  terminate(): void
  /** Heartbeat: `pong` is expected before the next ping. */
  ping(): void
  pause(): void
  resume(): void
  on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): unknown
  on(event: 'pong', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  once(event: 'close', listener: (code: number, reason: Buffer) => void): unknown
  removeListener(event: 'error', listener: (err: Error) => void): unknown
  /**
   * Called instead of sending the `session` frame (with resume on) and, with resume off, once the
   * session exists; before any other frame of the session.
   */
  opened?(info: TransportOpened): void
}

/** A connection a caller checked itself (its own handshake and credentials), to become a session. */
export interface TransportConnection {
  transport: SessionTransport
  /** The client's address (honouring the caller's proxy rules). */
  remoteAddress: string
  userAgent?: string | undefined
  origin?: string | undefined
  /** Claims the caller verified (e.g. a JWT), or undefined without authentication. */
  claims?: UserClaims | undefined
  /** Resume this session (the key of {@link TransportOpened}, or a `session` frame's token). */
  resume?: { key: string; lastSeq: number } | undefined
  /** The connection's logger (the session adds `sid`). */
  log: FastifyBaseLogger
}

/** What became of {@link TransportConnection}: a session, or a refusal with the upgrade's code. */
export type AttachResult =
  | { ok: true; session: Session }
  | { ok: false; code: string; message: string; retryAfterMs?: number }
