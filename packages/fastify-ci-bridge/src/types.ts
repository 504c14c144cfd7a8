import type { EventEmitter } from 'node:events'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import type { AmqpDecodeResult, CiMessage } from '@session-gateway/message-schema'
import type { AmqpId, AmqpIdInput } from './amqp-ids.js'

export type BridgeState = 'connecting' | 'open' | 'reconnecting' | 'closed'

export type BrokerProfile = 'rabbitmq' | 'generic'

/** AMQP metadata of a received message. */
export interface ReceivedMeta {
  /** The `message_id` as text, for logs (a ulong in decimal, a uuid canonical, binary in hex). */
  messageId?: string
  /** The `correlation_id` as text. */
  correlationId?: string
  /** The `message_id` with its AMQP type: what `reply()` sends back as the `correlation_id`. */
  amqpMessageId?: AmqpId
  amqpCorrelationId?: AmqpId
  /** On the `rabbitmq` profile a `/queue/NAME` reply address is given as `/amq/queue/NAME` (never declared). */
  replyTo?: string
  subject?: string
  /** The message's `application_properties` (for example a W3C `traceparent`), as received. */
  applicationProperties?: Record<string, unknown>
  /** `'node'` or `'broadcast'` for the `onMessage` consumers; the address for `subscribe()` consumers. */
  source: 'node' | 'broadcast' | string
}

/**
 * The `onMessage` option: handles one valid CI message received on the node or broadcast address.
 * The message is settled `accepted` once this resolves; when it throws (or rejects) the message is
 * settled `rejected` (condition `amqp:internal-error`) and, when it has a `reply_to`, answered with
 * a `RESULT` error `INTERNAL`.
 */
export type OnMessageHandler = (message: CiMessage, meta: ReceivedMeta) => Promise<void> | void

export interface SendOptions {
  replyTo?: string
  /** A string, or `{type, value}` for a `ulong`, `uuid` or `binary` id (sent with that type). */
  correlationId?: AmqpIdInput
  /** Default: a fresh `randomUUID()` (a string id). Kept across resends, so a receiver can drop duplicates. */
  messageId?: AmqpIdInput
  /** The message's `application_properties` (simple values only, e.g. `{ traceparent }`). */
  applicationProperties?: Record<string, string | number | boolean>
  /** Default: the body's `type` when it is a string. */
  subject?: string
  /** The message header's `durable` (survives a broker restart in a durable queue). */
  durable?: boolean
  /** The message header's `ttl`, in ms: the broker drops the message once it waited that long in a queue. */
  ttl?: number
  /**
   * Not refused when the outbox holds `outboxLimit` messages (it still counts toward the bound for
   * other sends, and still fails after `sendTimeoutMs`). For messages the caller bounds itself and
   * cannot retry, such as one `CLIENT_DISCONNECTED` per session after a mass disconnect.
   */
  bypassOutboxLimit?: boolean
  /**
   * May wait up to this many ms (1-100) for the connection's next writes, so that a burst of such
   * messages (one per event-loop turn, e.g. a `CLIENT_CONNECTED` per connect of a reconnect storm)
   * leaves in one write and the broker settles them in one range. Everything written on the
   * connection meanwhile waits with it. The promise still resolves only once the broker accepted
   * the message. Default: sent at the end of the current turn.
   */
  coalesceMs?: number
}

export interface RequestOptions extends SendOptions {
  /** Whole request (send + reply); default `sendTimeoutMs`. */
  timeoutMs?: number
}

export interface RequestReplyResult {
  /** The reply body: parsed JSON when it was JSON (data section or string), else as received. */
  body: unknown
  meta: ReceivedMeta
}

export interface SubscribeOptions<T> {
  /** Decodes and validates a body (e.g. `decodeUmMessage`); a failure rejects the message. */
  decode: (body: unknown) => AmqpDecodeResult<T>
  handler: (message: T, meta: ReceivedMeta) => Promise<void> | void
  /** Max unsettled deliveries on this receiver; default the bridge's `credit`. */
  credit?: number
  /** Durable source terminus (on RabbitMQ: the queue declared by `/queue/NAME` is durable). Default true. */
  durable?: boolean
}

export interface Subscription {
  readonly address: string
  /** Stops the consumer: waits for its handlers (bounded by `closeTimeoutMs`), then detaches. */
  close(): Promise<void>
}

export interface BridgeStats {
  /** Messages submitted with send() and friends (each counted once, whatever the resends). */
  sent: number
  accepted: number
  rejected: number
  released: number
  timedOut: number
  /** Messages transferred again after a reconnect or a link re-creation. */
  resent: number
  /** Messages waiting for a link (broker away, no credit yet). */
  outboxDepth: number
  /** Messages on the wire, waiting for their outcome. */
  inFlight: number
  /** Connections re-established after a loss. */
  reconnects: number
  /** Valid received messages, by `type`. */
  receivedByType: Record<string, number>
  /** Received messages that could not be decoded or failed their schema. */
  receivedInvalid: number
  /** How received messages were settled. */
  settlements: { accepted: number; rejected: number; released: number }
  duplicatesDropped: number
  /** `RESULT` errors the bridge itself sent for messages it rejected (undecodable, invalid, handler failed). */
  replyErrors: { sent: number; failed: number }
}

export interface CiBridgeEvents {
  state: [state: BridgeState, previous: BridgeState]
}

export interface CiBridge extends EventEmitter {
  readonly state: BridgeState
  readonly nodeId: string
  readonly userManagerAddress: string
  readonly nodeReplyTo: string
  readonly broadcastAddress: string
  readonly stats: BridgeStats
  /** `stats.sent`, read without building the stats object (once per send on a hot path). */
  readonly sentCount: number
  /** The broker URL (password masked) of the open connection; undefined while none is open. */
  readonly connectedUrl: string | undefined
  /**
   * True while the connection is lost and other broker URLs are left to try since: with several
   * URLs, a lost node is a failover, not an outage (a gateway keeps reporting ready through it).
   * Always false with one URL.
   */
  readonly failingOver: boolean
  /** The bridge's timers armed now (links, connection, send and request timeouts): 0 once closed. */
  readonly activeTimers: number

  /** Resolves only once the broker settled the message `accepted`; rejects with a BridgeError otherwise. */
  send(address: string, body: object, options?: SendOptions): Promise<void>
  /** send() to the User Manager address; `replyTo` defaults to `nodeReplyTo`, `durable` to true. */
  sendToUserManager(body: object, options?: SendOptions): Promise<void>
  /** Sends with `reply_to` = a reply queue of this bridge and waits for the reply correlated by message id. */
  request(address: string, body: object, options?: RequestOptions): Promise<RequestReplyResult>
  /** Answers a received message at its `reply_to`, `correlation_id` = its message id; resolves at once without `reply_to`. */
  reply(meta: ReceivedMeta, body: object, options?: Omit<SendOptions, 'correlationId'>): Promise<void>
  /** A generic consumer; resolves once the receiver is attached, rejects when the broker refuses the address. */
  subscribe<T>(address: string, options: SubscribeOptions<T>): Promise<Subscription>
  /**
   * Consumes the node and broadcast addresses with `handler`: the `onMessage` option, for a handler
   * that needs what is registered after the bridge. Once, before the bridge starts (the plugin starts
   * it when the app is ready); `state` is `open` only once these receivers are attached too.
   */
  consume(handler: OnMessageHandler): void
  /** Resolves when `state` is `open` (at once if it is); rejects with TIMEOUT or CLOSED. */
  waitForOpen(timeoutMs?: number): Promise<void>

  on<E extends keyof CiBridgeEvents>(event: E, listener: (...args: CiBridgeEvents[E]) => void): this
  once<E extends keyof CiBridgeEvents>(event: E, listener: (...args: CiBridgeEvents[E]) => void): this
  off<E extends keyof CiBridgeEvents>(event: E, listener: (...args: CiBridgeEvents[E]) => void): this
}

/** A bridge created outside Fastify (see `createCiBridge`): the owner closes it. */
export interface StandaloneCiBridge extends CiBridge {
  close(): Promise<void>
}

export interface CiBridgeOptions {
  /**
   * `amqp://user:password@host:port[/vhost]` or `amqps://…`; required. A list names the nodes of one
   * cluster: each connection attempt takes the next one (in order, with the reconnect backoff), so
   * a lost node costs one reconnect to the next. Every URL must name the same vhost.
   */
  url: string | readonly string[]
  /** This node's id: 1-64 characters of `[A-Za-z0-9_.-]`; required. */
  nodeId: string
  /** AMQP container id; default `gateway-<nodeId>`. */
  containerId?: string
  /** Address defaults: `rabbitmq` (RabbitMQ 3.x AMQP 1.0 plugin) or `generic` (addresses used exactly as given). */
  profile?: BrokerProfile
  userManagerAddress?: string
  /** Where this node's receiver attaches. */
  nodeAddress?: string
  /** What others send to reach this node (the `reply_to` of everything the node sends to the UM). */
  nodeReplyTo?: string
  /** The receiver every node attaches. */
  broadcastAddress?: string
  /** Where this bridge's request() reply receiver attaches (created on the first request()). */
  requestReplyAddress?: string
  /** The `reply_to` of request() messages (others send replies there). */
  requestReplyTo?: string
  tls?: TlsConnectionOptions
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number }
  /** Max messages not yet accepted (waiting + in flight); past it send() rejects at once with UNAVAILABLE. */
  outboxLimit?: number
  sendTimeoutMs?: number
  /** Max unsettled deliveries per receiver. */
  credit?: number
  /** How many message ids each consumer remembers to drop duplicates. */
  dedupeWindow?: number
  closeTimeoutMs?: number
  /** Time allowed for TCP + SASL + AMQP open before a connection attempt is abandoned. */
  connectTimeoutMs?: number
  /** Max cached senders to addresses other than the User Manager's (LRU; idle ones are closed). */
  maxCachedSenders?: number
  /** Deepest JSON nesting accepted in a received body. */
  maxDepth?: number
  /**
   * `rabbitmq`: the start of every queue name the bridge chooses (`<prefix>node.<nodeId>`, request
   * reply queues), so that one policy matches the bridge's queues and no other application's.
   * Default `gateway.`; 1-64 of [A-Za-z0-9_.-], not `amq.…`.
   */
  queuePrefix?: string
  /** Consumes the node and broadcast addresses when given. */
  onMessage?: OnMessageHandler
}

/** The logger the bridge writes to (Fastify's `log` fits). */
export interface BridgeLogger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}
