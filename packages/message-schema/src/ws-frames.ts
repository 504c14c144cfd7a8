import { type Static, Type } from 'typebox'
import { ErrorBody, EventName, JsonValue, RequestId, Trace } from './common.js'

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

/** `{event, data}`: an event pushed to the client. */
export const EventFrame = Type.Object(
  { event: Type.String({ minLength: 1 }), data: Type.Optional(JsonValue) },
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

export const ServerFrame = Type.Union([ReplyOkFrame, ReplyErrorFrame, ErrorFrame, EventFrame])
export type ServerFrame = Static<typeof ServerFrame>

/** `data` of the `GET_SID` reply. */
export const SidData = Type.Object({ sid: Type.String() }, { additionalProperties: false })
export type SidData = Static<typeof SidData>
