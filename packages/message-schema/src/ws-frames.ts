import { type Static, Type } from 'typebox'
import { ErrorBody, EventName, JsonValue, RequestId, Seq, Sid, Trace } from './common.js'
import { SESSION_EVENT } from './constants.js'

/** A frame a client sends: `{event, data?, id?, trace?}`. Unknown fields are refused (`INVALID`). */
export const ClientFrame = Type.Object(
  {
    event: EventName,
    data: Type.Optional(JsonValue),
    id: Type.Optional(RequestId),
    trace: Type.Optional(Trace),
  },
  { additionalProperties: false, description: 'client -> gateway frame' },
)
export type ClientFrame = Static<typeof ClientFrame>

/** `{event, data, seq?}`: an event pushed to the client; `seq` when resume is on (PROTOCOL.md 4.1). */
export const EventFrame = Type.Object(
  { event: Type.String({ minLength: 1 }), data: Type.Optional(JsonValue), seq: Type.Optional(Seq) },
  { additionalProperties: false, description: 'gateway -> client event frame' },
)
export type EventFrame = Static<typeof EventFrame>

export const ReplyOkFrame = Type.Object(
  { id: RequestId, ok: Type.Literal(true), data: Type.Optional(JsonValue) },
  { additionalProperties: false, description: 'successful reply to a client frame with an id' },
)
export type ReplyOkFrame = Static<typeof ReplyOkFrame>

export const ReplyErrorFrame = Type.Object(
  { id: RequestId, ok: Type.Literal(false), error: ErrorBody },
  { additionalProperties: false, description: 'failed reply to a client frame with an id' },
)
export type ReplyErrorFrame = Static<typeof ReplyErrorFrame>

export const ReplyFrame = Type.Union([ReplyOkFrame, ReplyErrorFrame])
export type ReplyFrame = Static<typeof ReplyFrame>

/** `{event:"error", data:{code,message}}`: answer to a frame that has no usable id. */
export const ErrorFrame = Type.Object(
  { event: Type.Literal('error'), data: ErrorBody },
  { additionalProperties: false, description: 'error for a frame without a usable id' },
)
export type ErrorFrame = Static<typeof ErrorFrame>

/** `data` of the `session` frame (PROTOCOL.md 4.1). */
export const SessionFrameData = Type.Object(
  {
    sid: Sid,
    /** Bearer credential for one resume: `GET /ws?resume=<resumeToken>&last_seq=<n>`. Never log it. */
    resumeToken: Type.String({ minLength: 22, maxLength: 1024 }),
    resumed: Type.Boolean(),
    /** With `resumed: true`: how many event frames follow at once (those with `seq` > `last_seq`). */
    replayed: Type.Optional(Type.Integer({ minimum: 0 })),
    /** With `resumed: false` after a resume attempt: why the session is a new one (RESUME_REFUSAL_REASONS). */
    reason: Type.Optional(
      Type.Union([
        Type.Literal('expired'),
        Type.Literal('invalid'),
        Type.Literal('gap'),
        Type.Literal('unavailable'),
      ]),
    ),
  },
  { additionalProperties: false },
)
export type SessionFrameData = Static<typeof SessionFrameData>

/** The first frame of every connection when resume is on; it carries no `seq`. */
export const SessionFrame = Type.Object(
  { event: Type.Literal(SESSION_EVENT), data: SessionFrameData },
  { additionalProperties: false, description: 'first frame of a connection, with resume on' },
)
export type SessionFrame = Static<typeof SessionFrame>

export const ServerFrame = Type.Union([ReplyOkFrame, ReplyErrorFrame, ErrorFrame, SessionFrame, EventFrame])
export type ServerFrame = Static<typeof ServerFrame>

/** `data` of the `GET_SID` reply. */
export const SidData = Type.Object({ sid: Type.String() }, { additionalProperties: false })
export type SidData = Static<typeof SidData>
