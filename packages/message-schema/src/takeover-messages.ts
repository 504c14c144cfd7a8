import { type Static, Type } from 'typebox'
import { Compile } from 'typebox/compile'
import { EpochMs, NodeId, ProtocolVersion, RoomName, Sid } from './common.js'

// The project's PROTOCOL.md 5.4: gateway node <-> gateway node, on each node's takeover address.
// A node whose client resumes a session of another node asks that node for it (TAKEOVER_REQUEST);
// the holder answers TAKEOVER_GRANTED (the session, which leaves it) or TAKEOVER_REFUSED.

const RequestId = Type.String({ minLength: 1, maxLength: 64, description: 'chosen by the requesting node' })
/** The resume token the client presented: checked again by the holder (a bearer credential: never log it). */
const Token = Type.String({ minLength: 1, maxLength: 1024 })
const Claims = Type.Record(Type.String(), Type.Unknown(), { description: 'verified JWT claims' })
/** A node's address (the reply_to of what it sends): where the old node forwards CI messages. */
const Address = Type.String({ minLength: 1, maxLength: 1024 })

export const TakeoverRequest = Type.Object({
  type: Type.Literal('TAKEOVER_REQUEST'),
  v: ProtocolVersion,
  requestId: RequestId,
  token: Token,
  /** The highest seq the client received. */
  lastSeq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  /** The requesting node (it holds the session after a grant). */
  node: NodeId,
  /** The requesting node's own address: CI messages that still reach the old node are forwarded there. */
  nodeAddress: Address,
  /** The resuming connection's verified claims (auth on): the session's user must be the same. */
  user: Type.Optional(Claims),
  /** The requester gives up then: a holder that reads the request later refuses it (no hand-over). */
  expiresAt: EpochMs,
})
export type TakeoverRequest = Static<typeof TakeoverRequest>

/** A session in transit (fastify-ws-sessions' SessionSnapshot). */
export const TakeoverSnapshot = Type.Object({
  sid: Sid,
  connectedAt: EpochMs,
  rooms: Type.Array(RoomName, { maxItems: 100_000 }),
  remoteAddress: Type.String({ maxLength: 256 }),
  userAgent: Type.Optional(Type.String()),
  origin: Type.Optional(Type.String()),
  user: Type.Optional(Claims),
  nextSeq: Type.Integer({ minimum: 1 }),
  generation: Type.Integer({ minimum: 0 }),
  /** Event frames after the request's lastSeq, in order, as encoded without seq. */
  frames: Type.Array(Type.Object({ seq: Type.Integer({ minimum: 1 }), text: Type.String() })),
})
export type TakeoverSnapshot = Static<typeof TakeoverSnapshot>

export const TakeoverGranted = Type.Object({
  type: Type.Literal('TAKEOVER_GRANTED'),
  v: ProtocolVersion,
  requestId: RequestId,
  /** The node that held the session (the CLIENT_RESUMED's previousNode). */
  node: NodeId,
  snapshot: TakeoverSnapshot,
})
export type TakeoverGranted = Static<typeof TakeoverGranted>

export const TakeoverRefused = Type.Object({
  type: Type.Literal('TAKEOVER_REFUSED'),
  v: ProtocolVersion,
  requestId: RequestId,
  node: NodeId,
  /** As a session frame's `reason` (RESUME_REFUSAL_REASONS). */
  refused: Type.Union([
    Type.Literal('expired'),
    Type.Literal('invalid'),
    Type.Literal('gap'),
    Type.Literal('unavailable'),
  ]),
})
export type TakeoverRefused = Static<typeof TakeoverRefused>

export type TakeoverMessage = TakeoverRequest | TakeoverGranted | TakeoverRefused

export const takeoverValidators = {
  TAKEOVER_REQUEST: Compile(TakeoverRequest),
  TAKEOVER_GRANTED: Compile(TakeoverGranted),
  TAKEOVER_REFUSED: Compile(TakeoverRefused),
} as const
