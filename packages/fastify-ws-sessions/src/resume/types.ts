import type { ResumeRefusalReason } from '@session-gateway/message-schema'
import type { FastifyRequest } from 'fastify'
import type { Session, UserClaims } from '../types.js'

/** What a session delivery came to: sent on a live connection, kept for a detached session, or nothing. */
export type Delivery = 'delivered' | 'kept' | 'none'

/** A resume token whose MAC is good: the session, the node that holds it, its generation, its expiry. */
export interface ResumeClaim {
  sid: string
  /** The node that issued the token (the session's node then). */
  node: string
  generation: number
  /** ms epoch. */
  expiresAt: number
  /** The token itself, for the holding node to check again (a bearer credential: never log it). */
  token: string
  /** A resume key (not single use): resumes the session whatever its generation. */
  stable?: boolean
}

/** A session in transit between nodes: JSON-serialisable (it travels in an AMQP body). */
export interface SessionSnapshot {
  sid: string
  connectedAt: number
  rooms: string[]
  remoteAddress: string
  userAgent?: string
  origin?: string
  user?: UserClaims
  /** The seq the session's next event frame gets. */
  nextSeq: number
  /** The generation the adopting node issues tokens with (past every token issued so far). */
  generation: number
  /** The event frames with seq > the resume's `last_seq`, in order, each as encoded without `seq`. */
  frames: Array<{ seq: number; text: string }>
  /**
   * Set by `locate`: the node that handed the session over, when it is not the node the claim names
   * (a resume key's request that followed the session); `onResume`'s `previousNode`.
   */
  from?: string
}

/** Why a hand-over (or a `locate`) gave no session. */
export interface ResumeRefusal {
  refused: ResumeRefusalReason
  /**
   * `handOver` of a resume key whose session this node handed over to another node (within the window
   * after the move): that node's id, so that the request can follow the session.
   */
  movedTo?: string
}

/** What a node that holds a session is asked for by the node its client came back to. */
export interface HandOverRequest {
  /** The resume token the client presented (checked again here). */
  token: string
  /** The highest seq the client received. */
  lastSeq: number
  /** The node that takes the session over (remembered for `movedTo`). */
  toNode: string
  /** The resuming connection's claims (`authenticate`): the session's user must be the same. */
  user?: UserClaims | undefined
}

/** What `locate` is given besides the claim. */
export interface LocateContext {
  lastSeq: number
  user: UserClaims | undefined
  /** The resuming upgrade; undefined for a connection attached through `attach` (no Fastify request). */
  request?: FastifyRequest | undefined
}

export interface ResumeOptions {
  /** How long a session whose connection dropped waits for its client, in ms. 0 turns resume off. */
  windowMs: number
  /**
   * HMAC key of the resume tokens (at least 32 bytes), the same on every node of a deployment.
   * Default: random per process (resume works on this node only, and not across its restarts).
   */
  secret?: string
  /** This node's name in its tokens (1-128 characters). Default: random per process. */
  nodeId?: string
  /** Frames one session keeps for replay. Default 1000. */
  maxReplayFrames?: number
  /** Characters of frame text one session keeps for replay. Default 1 MiB. */
  maxReplayBytes?: number
  /** Characters of frame text all sessions of this node keep together. Default 128 MiB. */
  maxNodeReplayBytes?: number
  /** How long a token is good for after it was issued, in ms (the window still applies). Default 24 h. */
  tokenTtlMs?: number
  /**
   * Called when a verified token names another node: find the session there and take it over (the
   * gateway asks that node, which answers with its registry's `handOver`). Resolve with the snapshot
   * to adopt, or a refusal; a rejection counts as `unavailable`. Without it, such a resume gets a new
   * session with reason `unavailable`.
   */
  locate?: (claim: ResumeClaim, context: LocateContext) => Promise<SessionSnapshot | ResumeRefusal>
}

/** `onResume`'s details. */
export interface ResumeInfo {
  /** The node that held the session before (this node's id for a resume on the same node). */
  previousNode: string
  /** Event frames replayed to the client at once. */
  replayed: number
}

export type DetachHook = (session: Session, code: number, reason: string) => void | Promise<void>
export type ResumeHook = (session: Session, info: ResumeInfo) => void | Promise<void>
