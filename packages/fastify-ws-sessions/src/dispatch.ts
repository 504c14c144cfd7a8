import {
  type ClientFrame,
  CloseCode,
  decodeClientFrame,
  encodeErrorFrame,
  encodeEventFrame,
  encodeReplyError,
  encodeReplyOk,
  type RequestId,
} from '@session-gateway/message-schema'
import type { RawData } from 'ws'
import { SessionError } from './errors.js'
import type { ResolvedOptions } from './options.js'
import type { WsSession } from './session.js'
import { isThenable } from './thenable.js'
import type { EventHandler } from './types.js'

/** What the dispatcher needs from the registry. */
export interface DispatchContext {
  readonly options: ResolvedOptions
  handlerFor(event: string): EventHandler | undefined
  countError(code: string): void
}

export const GET_SID = 'GET_SID'

function toText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8')
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.from(data).toString('utf8')
}

/** A reply frame when the client gave a usable id, else an error frame. */
function sendError(
  ctx: DispatchContext,
  session: WsSession,
  id: RequestId | undefined,
  code: string,
  message: string,
): void {
  ctx.countError(code)
  session.sendControl(
    id === undefined ? encodeErrorFrame(code, message) : encodeReplyError(id, code, message),
  )
}

/** Answers a bad frame and spends one unit of the session's bad-frame budget. */
function badFrame(
  ctx: DispatchContext,
  session: WsSession,
  code: string,
  message: string,
  id: RequestId | undefined,
): void {
  sendError(ctx, session, id, code, message)
  session.badFrames++
  if (session.badFrames > ctx.options.maxBadFrames) {
    session.log.info({ badFrames: session.badFrames }, 'too many bad frames: closing')
    session.close(CloseCode.POLICY_VIOLATION, 'too many bad frames')
  }
}

function rateLimited(ctx: DispatchContext, session: WsSession, data: RawData, isBinary: boolean): void {
  let id: RequestId | undefined
  if (!isBinary) {
    const decoded = decodeClientFrame(toText(data), { maxDepth: ctx.options.maxDepth })
    id = decoded.ok ? decoded.frame.id : decoded.id
  }
  sendError(ctx, session, id, 'RATE_LIMITED', 'rate limit exceeded')
  session.violations++
  const { rateLimit } = ctx.options
  if (rateLimit && session.violations > rateLimit.maxViolations) {
    session.log.info({ violations: session.violations }, 'rate limit exceeded repeatedly: closing')
    session.close(CloseCode.POLICY_VIOLATION, 'rate limit exceeded')
  }
}

function handlerFailed(ctx: DispatchContext, session: WsSession, frame: ClientFrame, err: unknown): void {
  let code = 'INTERNAL'
  let message = 'internal error'
  if (err instanceof SessionError) {
    code = err.code
    message = err.message
    session.log.debug({ event: frame.event, code }, 'event handler refused the event')
  } else {
    session.log.error({ err, event: frame.event }, 'event handler failed')
  }
  if (frame.id === undefined) ctx.countError(code)
  else sendError(ctx, session, frame.id, code, message)
}

function handlerDone(ctx: DispatchContext, session: WsSession, frame: ClientFrame, value: unknown): void {
  if (frame.id === undefined) return
  let text: string
  try {
    text = encodeReplyOk(frame.id, value)
  } catch (err) {
    handlerFailed(ctx, session, frame, err)
    return
  }
  session.sendControl(text)
}

function runHandler(
  ctx: DispatchContext,
  session: WsSession,
  handler: EventHandler,
  frame: ClientFrame,
): void {
  let result: unknown
  try {
    result = handler(session, frame.data, frame)
  } catch (err) {
    handlerFailed(ctx, session, frame, err)
    return
  }
  if (isThenable(result)) {
    Promise.resolve(result).then(
      (value) => handlerDone(ctx, session, frame, value),
      (err: unknown) => handlerFailed(ctx, session, frame, err),
    )
  } else {
    handlerDone(ctx, session, frame, result)
  }
}

/** Handles one frame a client sent: rate limit, decoding, GET_SID, handlers, replies. */
export function dispatchFrame(
  ctx: DispatchContext,
  session: WsSession,
  data: RawData,
  isBinary: boolean,
): void {
  if (session.bucket && !session.bucket.take()) {
    rateLimited(ctx, session, data, isBinary)
    return
  }
  if (isBinary) {
    badFrame(ctx, session, 'BAD_FRAME', 'binary frames are not accepted: send JSON text frames', undefined)
    return
  }
  const decoded = decodeClientFrame(toText(data), { maxDepth: ctx.options.maxDepth })
  if (!decoded.ok) {
    badFrame(ctx, session, decoded.error.code, decoded.error.message, decoded.id)
    return
  }
  const { frame } = decoded
  if (frame.event === GET_SID) {
    const sid = { sid: session.sid }
    session.sendControl(
      frame.id === undefined ? encodeEventFrame(GET_SID, sid) : encodeReplyOk(frame.id, sid),
    )
    return
  }
  const handler = ctx.handlerFor(frame.event)
  if (handler === undefined) {
    badFrame(ctx, session, 'INVALID', `unknown event "${frame.event}"`, frame.id)
    return
  }
  runHandler(ctx, session, handler, frame)
}
