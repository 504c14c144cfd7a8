import type { CiMessage, Result, Trace, UmMessage } from '@session-gateway/message-schema'
import type { BridgeState, ReceivedMeta } from 'fastify-ci-bridge'
import type { NodeIdCheck } from './node-id-check.js'

/**
 * What the gateway reads of a received CI message besides its body: the bridge's `ReceivedMeta`
 * (ids as text for logs, reply_to, application_properties, source), which the embedded bus fills too.
 */
export type CiMeta = Pick<
  ReceivedMeta,
  'messageId' | 'correlationId' | 'replyTo' | 'applicationProperties' | 'source'
>

/** Handles one CI message; a handler that is done in the same turn returns nothing (no promise). */
export type CiMessageHandler = (message: CiMessage, meta: CiMeta) => Promise<void> | undefined

/** Counters the metrics endpoint exports, whatever the transport. */
export interface BackendStats {
  outboxDepth: number
  inFlight: number
  reconnects: number
  /** Messages to the User Manager only, once queued for the broker (one refused by a full outbox is not). */
  sent: number
  accepted: number
  /** Messages to the User Manager sent but not accepted (refused by the broker, timed out, closing). */
  rejected: number
  /** RESULTs to CI reply addresses, by whether the broker accepted them. */
  results: { accepted: number; failed: number }
  /** The node's PINGs to its own address (the node checks), by whether their RESULT came back. */
  nodeCheckPings: { answered: number; unanswered: number }
  /** Every message sent on the broker link, whatever its address. */
  allSent: number
  receivedByType: Record<string, number>
  settlements: Record<string, number>
}

/** How a message to the User Manager is sent, besides its body. */
export interface UmSendOptions {
  /** Becomes the message's `traceparent`/`tracestate` application_properties. */
  trace?: Trace
  /** Default true: survives a broker restart (every session lifecycle message is). */
  durable?: boolean
  /** AMQP ttl in ms: the broker drops the message once it waited that long (NODE_HEARTBEAT). */
  ttl?: number
  /**
   * May wait up to this many ms for the sends of the next turns, to leave in one write with them
   * (a lifecycle message in a burst of connects, resumes or disconnects). Still acknowledged only
   * once accepted.
   */
  coalesceMs?: number
}

/**
 * The gateway's view of the broker: the AMQP bridge in production, the
 * in-process bus in embedded mode. Both deliver CI messages to the handler
 * given to `consume`.
 */
export interface Backend {
  readonly kind: 'amqp' | 'embedded'
  /** The broker link's state (the embedded bus is `open` until closed). */
  readonly state: BridgeState
  /** The address others use to reach this node (reply_to of everything it sends). */
  readonly nodeReplyTo: string
  /** True while a lost broker node fails over to the next URL (readiness stays 200 meanwhile). */
  readonly failingOver?: boolean
  /** The broker URL (password masked) of the open connection. */
  readonly brokerUrl?: string | undefined
  /** Why the node must not report ready although the broker may be open (the UM queue check). */
  readonly problem?: string | undefined
  /** Whether another running process shares this node's id (checked once the broker first connects). */
  readonly nodeIdCheck: NodeIdCheck
  /** Delivers the CI messages to `handler` from now on (once, before the app is ready). */
  consume(handler: CiMessageHandler): void
  /**
   * Resolves once the broker accepted the message; rejects with a BridgeError (fastify-ci-bridge)
   * otherwise, whatever the transport. `trace`
   * becomes the message's `traceparent`/`tracestate` application_properties.
   */
  sendToUserManager(body: UmMessage, options?: UmSendOptions): Promise<void>
  /**
   * Sends a RESULT to the message's reply_to (correlation_id = its message_id, with its AMQP type;
   * the request's traceparent/tracestate copied).
   */
  reply(meta: CiMeta, body: Result): Promise<void>
  stats(): BackendStats
}
