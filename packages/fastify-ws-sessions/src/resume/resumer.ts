import { encodeSessionFrame, type ResumeRefusalReason, withSeq } from '@session-gateway/message-schema'
import type { Timers } from '../timers.js'
import type { Session, UserClaims } from '../types.js'
import { DetachedSessions, MovedSessions } from './detached-sessions.js'
import type { KeptFrame } from './replay-buffer.js'
import { ReplayBudget } from './replay-buffer.js'
import { type ResumeAttempt, sameUser, snapshotProblem } from './resume-checks.js'
import type { ResolvedResume } from './resume-options.js'
import { SessionStream, type StreamContext } from './session-stream.js'
import { ResumeTokens } from './tokens.js'
import type { ResumeClaim, ResumeRefusal, SessionSnapshot } from './types.js'

/**
 * Everything resume needs beside the session registry: tokens, the node's replay budget, the windows
 * of detached sessions, where handed-over sessions went. The registry owns the sessions and their
 * hooks; this owns the rules.
 */
export class Resumer {
  readonly nodeId: string
  readonly locate: ResolvedResume['locate']
  readonly #options: ResolvedResume
  readonly #tokens: ResumeTokens
  readonly #context: StreamContext
  readonly #detached: DetachedSessions
  readonly #moved: MovedSessions

  constructor(options: ResolvedResume, timers: Timers) {
    this.#options = options
    this.nodeId = options.nodeId
    this.locate = options.locate
    this.#tokens = new ResumeTokens(options.secret)
    this.#context = {
      budget: new ReplayBudget(options.maxNodeReplayBytes),
      bounds: { maxFrames: options.maxReplayFrames, maxBytes: options.maxReplayBytes },
    }
    this.#detached = new DetachedSessions(timers, options.windowMs)
    this.#moved = new MovedSessions(options.windowMs)
  }

  get detachedCount(): number {
    return this.#detached.size
  }

  get replayBytes(): number {
    return this.#context.budget.bytes
  }

  newStream(): SessionStream {
    return new SessionStream(this.#context)
  }

  adoptStream(snapshot: SessionSnapshot): SessionStream {
    const stream = new SessionStream(this.#context, snapshot.nextSeq, snapshot.generation)
    stream.load(snapshot.frames, snapshot.nextSeq)
    return stream
  }

  /** The claim of an attempt's token, or why it cannot resume anything (nothing is disturbed). */
  claimOf(attempt: ResumeAttempt): ResumeClaim | ResumeRefusal {
    const claim = this.#tokens.verify(attempt.token)
    if (
      !claim ||
      attempt.lastSeq === undefined ||
      !Number.isSafeInteger(attempt.lastSeq) ||
      attempt.lastSeq < 0
    ) {
      return { refused: 'invalid' }
    }
    if (claim.expiresAt <= Date.now()) return { refused: 'expired' }
    return claim
  }

  sameUser(a: UserClaims | undefined, b: UserClaims | undefined): boolean {
    return sameUser(a, b)
  }

  snapshotProblem(snapshot: SessionSnapshot): string | undefined {
    return snapshotProblem(snapshot)
  }

  /** The `session` frame for this connection of `session`, with a new token of its generation. */
  sessionFrame(
    session: Session & { stream?: SessionStream | undefined },
    refused?: ResumeRefusalReason,
    replayed?: number,
  ): string {
    const generation = session.stream?.generation ?? 0
    const resumeToken = this.#tokens.issue(
      session.sid,
      this.nodeId,
      generation,
      Date.now() + this.#options.tokenTtlMs,
    )
    if (replayed !== undefined)
      return encodeSessionFrame({ sid: session.sid, resumeToken, resumed: true, replayed })
    return encodeSessionFrame({
      sid: session.sid,
      resumeToken,
      resumed: false,
      ...(refused ? { reason: refused } : {}),
    })
  }

  /** The session's resume key (see {@link ResumeTokens.issueKey}), naming this node. */
  resumeKey(sid: string): string {
    return this.#tokens.issueKey(sid, this.nodeId, Date.now() + this.#options.tokenTtlMs)
  }

  stamp(frame: KeptFrame): string {
    return withSeq(frame.text, frame.seq)
  }

  snapshot(
    session: Session & { stream?: SessionStream | undefined },
    rooms: string[],
    frames: KeptFrame[],
    generation: number,
  ): SessionSnapshot {
    return {
      sid: session.sid,
      connectedAt: session.connectedAt,
      rooms,
      remoteAddress: session.remoteAddress,
      ...(session.userAgent !== undefined ? { userAgent: session.userAgent } : {}),
      ...(session.origin !== undefined ? { origin: session.origin } : {}),
      ...(session.user !== undefined ? { user: session.user } : {}),
      nextSeq: session.stream?.nextSeq ?? 1,
      generation,
      frames: frames.map((f) => ({ seq: f.seq, text: f.text })),
    }
  }

  startWindow(sid: string, code: number, expire: () => void): void {
    this.#detached.start(sid, code, expire)
  }

  stopWindow(sid: string): void {
    this.#detached.stop(sid)
  }

  detachedCode(sid: string): number | undefined {
    return this.#detached.codeOf(sid)
  }

  /** The session is no longer on this node: no window any more. */
  forget(sid: string): void {
    this.#detached.stop(sid)
    this.#moved.delete(sid)
  }

  moved(sid: string, node: string): void {
    this.#moved.set(sid, node)
  }

  movedTo(sid: string): string | undefined {
    return this.#moved.get(sid)
  }

  dispose(): void {
    this.#moved.clear()
  }
}
