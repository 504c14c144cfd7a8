import { type Static, Type } from 'typebox'
import {
  APP_CLOSE_CODE_MAX,
  APP_CLOSE_CODE_MIN,
  BACKEND_EVENT_NAME_PATTERN,
  EVENT_NAME_PATTERN,
  GATEWAY_EVENT_NAMES,
  MAX_CLOSE_REASON_LENGTH,
  MAX_REQUEST_ID_LENGTH,
  MAX_ROOM_NAME_LENGTH,
  SID_PATTERN,
} from './constants.js'

export const EventName = Type.String({
  pattern: EVENT_NAME_PATTERN,
  description: '1-64 characters of [A-Za-z0-9_.:-]',
})
export type EventName = Static<typeof EventName>

/** The event of a frame a backend sends to clients: an {@link EventName} that is not the gateway's own. */
export const BackendEventName = Type.String({
  pattern: BACKEND_EVENT_NAME_PATTERN,
  description: `1-64 characters of [A-Za-z0-9_.:-], not ${GATEWAY_EVENT_NAMES.map((n) => `"${n}"`).join(', ')} (the gateway's own frames and Socket.IO's connection events)`,
})
export type BackendEventName = Static<typeof BackendEventName>

export const RequestId = Type.Union(
  [
    Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
    Type.String({ minLength: 1, maxLength: MAX_REQUEST_ID_LENGTH }),
  ],
  { description: 'integer 0..2^53-1 or string of 1-64 characters' },
)
export type RequestId = Static<typeof RequestId>

export const Sid = Type.String({
  pattern: SID_PATTERN,
  description: 'session id: base64url, >= 22 characters',
})
export type Sid = Static<typeof Sid>

export const RoomName = Type.String({ minLength: 1, maxLength: MAX_ROOM_NAME_LENGTH })
export type RoomName = Static<typeof RoomName>

export const NodeId = Type.String({ minLength: 1, maxLength: 128 })

export const EpochMs = Type.Integer({ minimum: 0, description: 'milliseconds since the Unix epoch' })

/** Any JSON value. */
export const JsonValue = Type.Unknown({ description: 'any JSON value' })

export const CloseReason = Type.String({ maxLength: MAX_CLOSE_REASON_LENGTH })

/** Close codes: the standard ones the gateway uses, or 4000-4999 from the CI. */
export const WsCloseCode = Type.Integer({ minimum: 1000, maximum: APP_CLOSE_CODE_MAX })

export const DisconnectCode = Type.Union([
  Type.Literal(1000),
  Type.Integer({ minimum: APP_CLOSE_CODE_MIN, maximum: APP_CLOSE_CODE_MAX }),
])

export const ErrorBody = Type.Object(
  {
    code: Type.String({ minLength: 1 }),
    message: Type.String(),
  },
  { additionalProperties: false },
)
export type ErrorBody = Static<typeof ErrorBody>

export const ProtocolVersion = Type.Literal(1)

/** `seq` of an event frame: 1 for a session's first, +1 for each next, across its connections. */
export const Seq = Type.Integer({
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  description: "position of the event frame in its session's stream (1, 2, …)",
})

/** A W3C Trace Context `traceparent`: version-traceid-parentid-flags, lower-case hex. */
export const TRACEPARENT_PATTERN = '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'

/**
 * W3C Trace Context of a client event: the gateway sets these as `application_properties` of the
 * CLIENT_EVENT it sends (the body does not change).
 */
export const Trace = Type.Object(
  {
    traceparent: Type.String({ pattern: TRACEPARENT_PATTERN, description: 'W3C traceparent' }),
    tracestate: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'W3C tracestate' })),
  },
  { additionalProperties: false, description: 'W3C Trace Context, passed on as AMQP application_properties' },
)
export type Trace = Static<typeof Trace>
