import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { type AmqpDecodeResult, decodeCiMessage, resultError } from '@session-gateway/message-schema'
import type { Connection, Message } from 'rhea'
import { refusedAddress, replyAddressFor } from './addresses.js'
import { installTypedIdDecoding } from './amqp-ids.js'
import { ConnectionManager } from './connection.js'
import { createConsumer } from './consumer.js'
import { DedupeWindow } from './dedupe.js'
import { BridgeError } from './errors.js'
import { installFrameWriter } from './frame-writer.js'
import type { LinkSettings } from './link.js'
import { MAX_CREDIT, type ResolvedOptions, resolveOptions } from './options.js'
import { Outbox } from './outbox.js'
import { encodeJsonPayload } from './payload.js'
import { AttachRefused, LinkReceiver, type Settlement } from './receiver.js'
import { RequestReply } from './request-reply.js'
import { LinkSender, type LinkSenderOptions } from './sender.js'
import { SenderCache } from './sender-cache.js'
import { Timers } from './timers.js'
import type {
  BridgeLogger,
  BridgeState,
  BridgeStats,
  CiBridgeOptions,
  OnMessageHandler,
  ReceivedMeta,
  RequestOptions,
  RequestReplyResult,
  SendOptions,
  StandaloneCiBridge,
  SubscribeOptions,
  Subscription,
} from './types.js'

const silentLogger: BridgeLogger = { debug() {}, info() {}, warn() {}, error() {} }

interface ReceiveCounters {
  receivedByType: Record<string, number>
  receivedInvalid: number
  settlements: { accepted: number; rejected: number; released: number }
  duplicatesDropped: number
  reconnects: number
  replyErrors: { sent: number; failed: number }
}

/**
 * The bridge: one AMQP connection (re-established by itself), a sender to the User Manager, cached
 * senders to other addresses, the node and broadcast consumers, subscriptions and request/reply.
 * State is `open` while the connection and the bridge's own links (User Manager sender; node and
 * broadcast receivers when `onMessage` is set) are attached.
 */
export class Bridge extends EventEmitter implements StandaloneCiBridge {
  readonly nodeId: string
  readonly userManagerAddress: string
  readonly nodeReplyTo: string
  readonly broadcastAddress: string
  readonly nodeAddress: string
  readonly requestReplyTo: string | undefined

  #currentState: BridgeState = 'connecting'
  #connectionOpenedBefore = false
  #started = false
  #closing: Promise<void> | undefined
  /** Set once close() stopped waiting: from then on send() rejects with CLOSED. */
  #sendsClosed = false
  readonly #opts: ResolvedOptions
  readonly #log: BridgeLogger
  /** Every timer of the bridge (links, connection, send and request timeouts, close). */
  readonly #timers = new Timers()
  readonly #connection: ConnectionManager
  readonly #outbox: Outbox
  readonly #umSender: LinkSender
  readonly #senders: SenderCache
  readonly #receivers = new Set<LinkReceiver>()
  readonly #coreReceivers: LinkReceiver[] = []
  readonly #requests: RequestReply | undefined
  readonly #counters: ReceiveCounters = {
    receivedByType: {},
    receivedInvalid: 0,
    settlements: { accepted: 0, rejected: 0, released: 0 },
    duplicatesDropped: 0,
    reconnects: 0,
    replyErrors: { sent: 0, failed: 0 },
  }

  constructor(opts: ResolvedOptions, log: BridgeLogger = silentLogger) {
    super()
    installTypedIdDecoding()
    installFrameWriter()
    this.#opts = opts
    this.#log = log
    this.nodeId = opts.nodeId
    this.userManagerAddress = opts.userManagerAddress
    this.nodeReplyTo = opts.nodeReplyTo
    this.broadcastAddress = opts.broadcastAddress
    this.nodeAddress = opts.nodeAddress
    this.requestReplyTo = opts.requestReplyTo
    // 'error' is never emitted, but a listener keeps a stray one from crashing the process.
    this.on('error', (error: unknown) => this.#log.error({ err: error }, 'fastify-ci-bridge: error event'))

    this.#outbox = new Outbox(opts.outboxLimit, opts.sendTimeoutMs, this.#timers)
    this.#connection = new ConnectionManager(
      { ...opts, timers: this.#timers },
      { onOpen: (connection) => this.#onConnectionOpen(connection), onLost: () => this.#onConnectionLost() },
      log,
    )
    this.#umSender = this.#createSender(opts.userManagerAddress, 'retry', () => this.#refreshState())
    this.#senders = new SenderCache(opts.maxCachedSenders, (address, onChange) =>
      this.#createSender(address, 'reject', onChange),
    )
    const requestReplyAddress = opts.requestReplyAddress
    this.#requests = requestReplyAddress
      ? new RequestReply({
          replyTo: opts.requestReplyTo ?? requestReplyAddress,
          defaultTimeoutMs: opts.sendTimeoutMs,
          log,
          timers: this.#timers,
          createReceiver: (process) =>
            this.#addReceiver(
              { address: requestReplyAddress, durable: false, credit: opts.credit, failFast: true },
              process,
            ),
          send: (address, body, options) => this.send(address, body, options),
        })
      : undefined

    if (opts.onMessage) this.consume(opts.onMessage)
  }

  /** The `onMessage` option, given after creation: consumes the node and broadcast addresses with `handler`. */
  consume(handler: OnMessageHandler): void {
    if (this.#coreReceivers.length > 0)
      throw new Error('fastify-ci-bridge: consume(): the bridge consumes already')
    if (this.#started)
      throw new Error('fastify-ci-bridge: consume(): call it before the bridge starts (before ready)')
    const opts = this.#opts
    const decode = (body: unknown) => decodeCiMessage(body, { maxDepth: opts.maxDepth })
    for (const [source, address, durable] of [
      ['node', opts.nodeAddress, true],
      ['broadcast', opts.broadcastAddress, false],
    ] as const) {
      const process = this.#consumer(source, decode, handler)
      this.#coreReceivers.push(
        this.#addReceiver({ address, durable, credit: opts.credit, failFast: false }, process, false),
      )
    }
  }

  get state(): BridgeState {
    return this.#currentState
  }

  get connectedUrl(): string | undefined {
    return this.#connection.connectedUrl
  }

  /** Timers armed now (0 once closed). */
  get activeTimers(): number {
    return this.#timers.size
  }

  get failingOver(): boolean {
    return !this.#closing && this.#connection.failingOver
  }

  get stats(): BridgeStats {
    const c = this.#outbox.counters
    return {
      sent: c.sent,
      accepted: c.accepted,
      rejected: c.rejected,
      released: c.released,
      timedOut: c.timedOut,
      resent: c.resent,
      outboxDepth: this.#outbox.waitingCount,
      inFlight: this.#outbox.inflightCount,
      reconnects: this.#counters.reconnects,
      receivedByType: { ...this.#counters.receivedByType },
      receivedInvalid: this.#counters.receivedInvalid,
      settlements: { ...this.#counters.settlements },
      duplicatesDropped: this.#counters.duplicatesDropped,
      replyErrors: { ...this.#counters.replyErrors },
    }
  }

  /** Messages queued for sending so far (`stats.sent`, without building the whole stats object). */
  get sentCount(): number {
    return this.#outbox.counters.sent
  }

  /** Starts connecting (once). */
  start(): void {
    this.#started = true
    this.#connection.start()
  }

  // ---- links ----

  #linkSettings(): LinkSettings {
    return {
      log: this.#log,
      timers: this.#timers,
      connection: () => this.#connection.connection,
      retryDelays: { initialMs: this.#opts.initialDelayMs, maxMs: this.#opts.maxDelayMs },
      attachTimeoutMs: this.#opts.connectTimeoutMs,
    }
  }

  #createSender(
    address: string,
    onFailure: 'retry' | 'reject',
    onChange: LinkSenderOptions['onChange'],
  ): LinkSender {
    const options: LinkSenderOptions = { ...this.#linkSettings(), address, outbox: this.#outbox, onFailure }
    if (onChange) options.onChange = onChange
    return new LinkSender(options)
  }

  #addReceiver(
    spec: { address: string; durable: boolean; credit: number; failFast: boolean },
    process: (message: Message) => Settlement | Promise<Settlement>,
    attachNow = true,
  ): LinkReceiver {
    const receiver = new LinkReceiver({
      ...this.#linkSettings(),
      ...spec,
      process,
      onSettled: (outcome) => {
        this.#counters.settlements[outcome] += 1
      },
      onChange: (changed) => {
        if (changed.isClosed) this.#receivers.delete(changed)
        this.#refreshState()
      },
    })
    this.#receivers.add(receiver)
    if (attachNow) receiver.attach()
    return receiver
  }

  #consumer<T>(
    source: string,
    decode: (body: unknown) => AmqpDecodeResult<T>,
    handler: (message: T, meta: ReceivedMeta) => Promise<void> | void,
  ): (message: Message) => Settlement | Promise<Settlement> {
    return createConsumer({
      source,
      decode,
      handler,
      dedupe: new DedupeWindow(this.#opts.dedupeWindow),
      log: this.#log,
      replyAddress: (replyTo) => replyAddressFor(this.#opts.profile, replyTo),
      stats: {
        received: (type) => {
          this.#counters.receivedByType[type] = (this.#counters.receivedByType[type] ?? 0) + 1
        },
        invalid: () => {
          this.#counters.receivedInvalid += 1
        },
        duplicate: () => {
          this.#counters.duplicatesDropped += 1
        },
      },
      replyError: async (replyTo, correlationId, code, message) => {
        try {
          await this.send(
            replyTo,
            resultError(code, message),
            correlationId === undefined ? {} : { correlationId },
          )
          this.#counters.replyErrors.sent += 1
        } catch (error) {
          this.#counters.replyErrors.failed += 1
          this.#log.warn({ err: error, replyTo }, 'amqp: could not send a RESULT error')
        }
      },
    })
  }

  #onConnectionOpen(_connection: Connection): void {
    if (this.#connectionOpenedBefore) this.#counters.reconnects += 1
    this.#connectionOpenedBefore = true
    // rhea re-attaches nothing after a broker restart: every link is created anew, each on its own session.
    this.#umSender.attach()
    for (const receiver of this.#receivers) receiver.attach()
    this.#senders.attachBusy()
    this.#refreshState()
  }

  #onConnectionLost(): void {
    this.#umSender.connectionLost()
    this.#senders.connectionLost()
    for (const receiver of this.#receivers) receiver.connectionLost()
    this.#refreshState()
  }

  #refreshState(): void {
    if (this.#closing) return
    const ready =
      this.#connection.connection !== undefined &&
      this.#umSender.isOpen &&
      this.#coreReceivers.every((receiver) => receiver.isOpen)
    if (ready) {
      this.#connection.linksReady()
      this.#setState('open')
    } else if (this.#currentState === 'open') this.#setState('reconnecting')
    else if (
      this.#currentState === 'connecting' &&
      this.#connectionOpenedBefore &&
      !this.#connection.connection
    ) {
      this.#setState('reconnecting')
    }
  }

  #setState(state: BridgeState): void {
    const previous = this.#currentState
    if (previous === state) return
    this.#currentState = state
    this.#log.info({ state, previous }, 'fastify-ci-bridge: state')
    this.emit('state', state, previous)
  }

  // ---- public API ----

  send(address: string, body: object, options: SendOptions = {}): Promise<void> {
    return this.#send(address, body, options, options.replyTo, options.durable)
  }

  /**
   * `send` with the reply address and `durable` given apart from `options`: `sendToUserManager`
   * fills in its defaults without a new options object per message (an object spread of options
   * of many shapes gives every copy a map of its own, and every later read of it a cache miss).
   */
  #send(
    address: string,
    body: object,
    options: SendOptions,
    replyTo: string | undefined,
    durable: boolean | undefined,
  ): Promise<void> {
    // While close() waits for running handlers, their replies (and other sends) still go out.
    if (this.#sendsClosed) return Promise.reject(new BridgeError('CLOSED', 'bridge closed', { address }))
    if (typeof address !== 'string' || address === '') {
      return Promise.reject(new TypeError('address must be a non-empty string'))
    }
    const refused = refusedAddress(this.#opts.profile, address)
    if (refused) {
      return Promise.reject(
        new BridgeError('REJECTED', refused, { address, condition: 'amqp:not-implemented' }),
      )
    }
    let payload: Buffer
    try {
      payload = encodeJsonPayload(body, options, replyTo, durable)
    } catch (error) {
      return Promise.reject(error)
    }
    let created: ReturnType<Outbox['create']>
    try {
      created = this.#outbox.create(address, payload, options.bypassOutboxLimit === true)
    } catch (error) {
      return Promise.reject(error)
    }
    try {
      const sender = address === this.userManagerAddress ? this.#umSender : this.#senders.get(address)
      if (options.coalesceMs !== undefined) this.#connection.lingerWrites(options.coalesceMs)
      sender.enqueue(created.entry)
    } catch (error) {
      // Never leave an entry nobody sends: its timeout would reject a promise already returned.
      this.#outbox.settle(
        created.entry,
        new BridgeError('UNAVAILABLE', `could not queue the message: ${(error as Error).message}`, {
          address,
          cause: error,
        }),
      )
    }
    return created.done
  }

  sendToUserManager(body: object, options: SendOptions = {}): Promise<void> {
    return this.#send(
      this.userManagerAddress,
      body,
      options,
      options.replyTo ?? this.nodeReplyTo,
      options.durable ?? true,
    )
  }

  request(address: string, body: object, options: RequestOptions = {}): Promise<RequestReplyResult> {
    if (this.#closing) return Promise.reject(new BridgeError('CLOSED', 'bridge closed', { address }))
    if (!this.#requests) {
      return Promise.reject(
        new Error(
          'fastify-ci-bridge: request() needs a reply address: set "requestReplyAddress" (profile \'generic\')',
        ),
      )
    }
    return this.#requests.request(address, body, options)
  }

  reply(meta: ReceivedMeta, body: object, options: Omit<SendOptions, 'correlationId'> = {}): Promise<void> {
    if (!meta.replyTo) return Promise.resolve()
    // The request's id with its AMQP type: a peer correlates a ulong or uuid id only with the same type.
    const correlationId = meta.amqpMessageId ?? meta.amqpCorrelationId ?? meta.messageId ?? meta.correlationId
    return this.send(
      meta.replyTo,
      body,
      correlationId === undefined ? options : { ...options, correlationId },
    )
  }

  async subscribe<T>(address: string, options: SubscribeOptions<T>): Promise<Subscription> {
    if (this.#closing) throw new BridgeError('CLOSED', 'bridge closed', { address })
    if (typeof address !== 'string' || address === '')
      throw new TypeError('address must be a non-empty string')
    if (typeof options?.decode !== 'function' || typeof options.handler !== 'function') {
      throw new TypeError('subscribe needs { decode, handler } functions')
    }
    const refused = refusedAddress(this.#opts.profile, address)
    if (refused) throw new BridgeError('REJECTED', refused, { address, condition: 'amqp:not-implemented' })
    const credit = options.credit ?? this.#opts.credit
    if (!Number.isInteger(credit) || credit < 1 || credit > MAX_CREDIT) {
      throw new TypeError(`credit must be an integer from 1 to ${MAX_CREDIT}`)
    }
    const process = this.#consumer(address, options.decode, options.handler)
    const receiver = this.#addReceiver(
      { address, durable: options.durable ?? true, credit, failFast: true },
      process,
    )
    try {
      await receiver.whenAttached()
    } catch (error) {
      this.#receivers.delete(receiver)
      if (this.#closing) throw new BridgeError('CLOSED', 'bridge closed', { address })
      const condition = error instanceof AttachRefused ? error.condition : undefined
      throw new BridgeError(
        'REJECTED',
        `the broker refused a receiver on ${address}: ${(error as Error).message}`,
        { address, ...(condition === undefined ? {} : { condition }), cause: error },
      )
    }
    return {
      address,
      close: async () => {
        receiver.stopIntake()
        await this.#timers.atMost(receiver.whenIdle(), this.#opts.closeTimeoutMs)
        receiver.close()
        this.#receivers.delete(receiver)
      },
    }
  }

  waitForOpen(timeoutMs = this.#opts.connectTimeoutMs): Promise<void> {
    if (this.#currentState === 'open') return Promise.resolve()
    if (this.#closing) return Promise.reject(new BridgeError('CLOSED', 'bridge closed'))
    return new Promise((resolve, reject) => {
      const onState = (state: BridgeState) => {
        if (state === 'open') finish()
        else if (state === 'closed') finish(new BridgeError('CLOSED', 'bridge closed'))
      }
      const finish = (error?: Error) => {
        this.#timers.clear(timer)
        this.off('state', onState)
        if (error) reject(error)
        else resolve()
      }
      const timer = this.#timers.timeout(
        () =>
          finish(
            new BridgeError(
              'TIMEOUT',
              `bridge not open within ${timeoutMs} ms (state ${this.#currentState})`,
            ),
          ),
        timeoutMs,
      )
      this.on('state', onState)
    })
  }

  /**
   * Stops taking messages, waits (at most `closeTimeoutMs`) for running handlers to settle and then
   * for pending sends (theirs included) to get their outcome, rejects what is left with CLOSED, then
   * closes the links and the connection. New requests and subscriptions are refused at once; sends
   * are taken until the wait is over.
   */
  close(): Promise<void> {
    if (!this.#closing) this.#closing = this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    const deadline = Date.now() + this.#opts.closeTimeoutMs
    for (const receiver of this.#receivers) receiver.stopIntake()
    const idle = Promise.all([...this.#receivers].map((receiver) => receiver.whenIdle()))
    await this.#timers.atMost(
      idle.then(() => this.#outbox.whenEmpty()),
      deadline - Date.now(),
    )
    this.#sendsClosed = true
    this.#requests?.close()
    this.#outbox.rejectAll(
      () => new BridgeError('CLOSED', 'bridge closed before the broker accepted the message'),
    )
    for (const receiver of this.#receivers) receiver.close()
    this.#receivers.clear()
    this.#umSender.close()
    this.#senders.closeAll()
    await this.#connection.stop(Math.max(250, deadline - Date.now()))
    const previous = this.#currentState
    this.#currentState = 'closed'
    this.#log.info({ state: 'closed', previous }, 'fastify-ci-bridge: state')
    this.emit('state', 'closed', previous)
  }
}

/**
 * A bridge outside Fastify: validates the options like the plugin, starts connecting, and leaves
 * closing to the caller (`await bridge.close()`).
 */
export function createCiBridge(options: CiBridgeOptions, logger?: BridgeLogger): StandaloneCiBridge {
  const bridge = new Bridge(resolveOptions(options, randomBytes(4).toString('hex')), logger)
  bridge.start()
  return bridge
}
