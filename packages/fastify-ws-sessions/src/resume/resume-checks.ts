import { LAST_SEQ_QUERY_PARAM, RESUME_QUERY_PARAM, SID_PATTERN } from '@session-gateway/message-schema'
import type { UserClaims } from '../types.js'
import { MAX_TOKEN_LENGTH } from './tokens.js'
import type { SessionSnapshot } from './types.js'

const SID = new RegExp(SID_PATTERN)
const LAST_SEQ = /^(0|[1-9][0-9]{0,15})$/

/** What a resuming upgrade asked for; `lastSeq` undefined when the request was malformed. */
export interface ResumeAttempt {
  token: string
  lastSeq: number | undefined
}

/**
 * The resume attempt of an upgrade's query (`?resume=<token>&last_seq=<n>`), or undefined when it
 * has none. A repeated, empty or oversized token, or a `last_seq` that is not a whole number, is a
 * malformed attempt (answered `invalid`).
 */
export function resumeAttemptOf(query: unknown): ResumeAttempt | undefined {
  if (typeof query !== 'object' || query === null) return undefined
  const q = query as Record<string, unknown>
  const token = q[RESUME_QUERY_PARAM]
  if (token === undefined) return undefined
  const lastSeq = q[LAST_SEQ_QUERY_PARAM]
  const good =
    typeof token === 'string' &&
    token.length > 0 &&
    token.length <= MAX_TOKEN_LENGTH &&
    typeof lastSeq === 'string' &&
    LAST_SEQ.test(lastSeq) &&
    Number.isSafeInteger(Number(lastSeq))
  return good
    ? { token, lastSeq: Number(lastSeq) }
    : { token: typeof token === 'string' ? token : '', lastSeq: undefined }
}

function subOf(user: UserClaims | undefined): unknown {
  return user?.sub
}

/** A session may be resumed only by the same user: the same `sub` claim (both none without auth). */
export function sameUser(a: UserClaims | undefined, b: UserClaims | undefined): boolean {
  const sa = subOf(a)
  const sb = subOf(b)
  return sa === sb && (sa === undefined || typeof sa === 'string')
}

/** Why a snapshot from another node cannot be adopted, or undefined when it can. */
export function snapshotProblem(s: SessionSnapshot): string | undefined {
  if (typeof s !== 'object' || s === null) return 'not an object'
  if (typeof s.sid !== 'string' || !SID.test(s.sid)) return 'bad sid'
  if (!Number.isSafeInteger(s.connectedAt)) return 'bad connectedAt'
  if (!Array.isArray(s.rooms) || s.rooms.some((r) => typeof r !== 'string')) return 'bad rooms'
  if (typeof s.remoteAddress !== 'string') return 'bad remoteAddress'
  if (!Number.isSafeInteger(s.nextSeq) || s.nextSeq < 1) return 'bad nextSeq'
  if (!Number.isSafeInteger(s.generation) || s.generation < 0) return 'bad generation'
  if (!Array.isArray(s.frames)) return 'bad frames'
  const first = s.nextSeq - s.frames.length
  for (const [i, frame] of s.frames.entries()) {
    if (frame?.seq !== first + i || typeof frame.text !== 'string' || !frame.text.endsWith('}')) {
      return 'frames must be consecutive event frames ending at nextSeq - 1'
    }
  }
  return undefined
}
