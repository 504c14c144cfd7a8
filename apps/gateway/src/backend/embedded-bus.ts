import { randomUUID } from 'node:crypto'
import {
  type CiMessage,
  decodeCiMessage,
  decodeResult,
  type Result,
  type UmMessage,
} from '@session-gateway/message-schema'
import { BridgeError } from 'fastify-ci-bridge'
import type { Backend, BackendStats, CiMessageHandler, CiMeta } from './types.js'

/** The address of the one node in embedded mode. */
export const EMBEDDED_NODE_ADDRESS = 'embedded:node'
export const EMBEDDED_BROADCAST_ADDRESS = 'embedded:broadcast'

export type UmListener = (
  message: UmMessage,
  meta: { replyTo: string; messageId: string },
) => Promise<void> | void

/**
 * An in-process stand-in for the broker, for running the gateway whole on one
 * machine. Messages cross it as JSON text, decoded by the same schemas as on
 * the wire, so a User Manager written against it behaves as against AMQP.
 */
export class EmbeddedBus implements Backend {
  readonly kind = 'embedded'
  readonly nodeReplyTo = EMBEDDED_NODE_ADDRESS
  /** One process, one bus: there is no other node to share the id with. */
  readonly nodeIdCheck = 'skipped' as const
  #closed = false
  #umListener: UmListener | undefined
  readonly #pendingResults = new Map<string, (result: Result) => void>()
  readonly #counters: BackendStats = {
    outboxDepth: 0,
    inFlight: 0,
    reconnects: 0,
    sent: 0,
    accepted: 0,
    rejected: 0,
    results: { accepted: 0, failed: 0 },
    nodeCheckPings: { answered: 0, unanswered: 0 },
    allSent: 0,
    receivedByType: {},
    settlements: { accepted: 0, rejected: 0 },
  }

  #ciHandler: CiMessageHandler | undefined
  readonly #onUndeliverable: (reason: string, meta: CiMeta) => void

  constructor(onUndeliverable: (reason: string, meta: CiMeta) => void = () => {}) {
    this.#onUndeliverable = onUndeliverable
  }

  consume(handler: CiMessageHandler): void {
    if (this.#ciHandler) throw new Error('embedded bus: consume(): the node consumes already')
    this.#ciHandler = handler
  }

  get state(): 'open' | 'closed' {
    return this.#closed ? 'closed' : 'open'
  }

  /** The User Manager side: receives everything sent to the UM address. */
  onUserManagerMessage(listener: UmListener): void {
    this.#umListener = listener
  }

  async sendToUserManager(body: UmMessage): Promise<void> {
    if (this.#closed) throw new BridgeError('UNAVAILABLE', 'embedded bus is closed')
    this.#counters.sent++
    this.#counters.allSent++
    const text = JSON.stringify(body)
    const listener = this.#umListener
    this.#counters.accepted++
    // Delivered after the sender's turn, as a broker would.
    setImmediate(() => {
      if (!listener) return
      Promise.resolve(
        listener(JSON.parse(text) as UmMessage, { replyTo: EMBEDDED_NODE_ADDRESS, messageId: randomUUID() }),
      ).catch(() => {})
    })
  }

  /** The CI side: sends a CI message to the node; resolves once the node has handled it. */
  async sendToNode(
    body: CiMessage | Record<string, unknown>,
    options: { replyTo?: string; broadcast?: boolean } = {},
  ): Promise<void> {
    const messageId = randomUUID()
    const meta: CiMeta = {
      messageId,
      source: options.broadcast ? 'broadcast' : 'node',
      ...(options.replyTo ? { replyTo: options.replyTo } : {}),
    }
    const decoded = decodeCiMessage(JSON.stringify(body))
    const type = decoded.ok ? decoded.message.type : (decoded.type ?? 'unknown')
    this.#counters.receivedByType[type] = (this.#counters.receivedByType[type] ?? 0) + 1
    if (!decoded.ok) {
      this.#counters.settlements.rejected = (this.#counters.settlements.rejected ?? 0) + 1
      this.#onUndeliverable(decoded.error.message, meta)
      if (meta.replyTo) {
        await this.reply(meta, { type: 'RESULT', v: 1, ok: false, error: decoded.error })
      }
      return
    }
    if (!this.#ciHandler) throw new Error('embedded bus: no node consumes yet')
    await this.#ciHandler(decoded.message, meta)
    this.#counters.settlements.accepted = (this.#counters.settlements.accepted ?? 0) + 1
  }

  /** Request/reply on the bus: the node's RESULT. */
  request(body: CiMessage, options: { broadcast?: boolean } = {}): Promise<Result> {
    const replyTo = `embedded:reply:${randomUUID()}`
    return new Promise<Result>((resolve, reject) => {
      this.#pendingResults.set(replyTo, resolve)
      this.sendToNode(body, { replyTo, ...options }).then(
        () => {
          // A node that does not answer (a SID-targeted message on the broadcast address for a SID it lacks).
          if (this.#pendingResults.delete(replyTo)) reject(new Error('no RESULT'))
        },
        (err: unknown) => {
          this.#pendingResults.delete(replyTo)
          reject(err)
        },
      )
    })
  }

  async reply(meta: CiMeta, body: Result): Promise<void> {
    if (!meta.replyTo) return
    this.#counters.allSent++
    this.#counters.results.accepted++
    const decoded = decodeResult(JSON.stringify(body))
    const waiter = this.#pendingResults.get(meta.replyTo)
    if (decoded.ok && waiter) {
      this.#pendingResults.delete(meta.replyTo)
      waiter(decoded.message)
    }
  }

  stats(): BackendStats {
    return { ...this.#counters, results: { ...this.#counters.results } }
  }

  close(): void {
    this.#closed = true
    this.#umListener = undefined
  }
}
