import { type CiMessage, resultError, SID_TARGETED_TYPES } from '@session-gateway/message-schema'
import type { FastifyBaseLogger } from 'fastify'
import type { CiBridge } from 'fastify-ci-bridge'
import type { Backend, CiMeta } from '../backend/types.js'

/** Forwarded CI messages are bounded by the receiver's credit, not by the outbox (full of CLIENT_DETACHED in a drain). */
const FORWARD_SEND = { bypassOutboxLimit: true } as const

/** How often forgotten entries are swept (they are also dropped when looked up past their time). */
const SWEEP_MS = 10_000

/**
 * Where the sessions this node handed over went: SID -> the new node's address, for `ttlMs` (the
 * resume window) after the hand-over. Bounded by the sessions the node held during one window.
 */
export class MovedSessions {
  readonly #moved = new Map<string, { address: string; until: number }>()
  readonly #sweep: NodeJS.Timeout
  readonly #ttlMs: number

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs
    this.#sweep = setInterval(() => this.#prune(), SWEEP_MS)
    this.#sweep.unref()
  }

  add(sid: string, address: string): void {
    this.#moved.set(sid, { address, until: Date.now() + this.#ttlMs })
  }

  delete(sid: string): void {
    this.#moved.delete(sid)
  }

  addressOf(sid: string): string | undefined {
    const entry = this.#moved.get(sid)
    if (!entry) return undefined
    if (entry.until <= Date.now()) {
      this.#moved.delete(sid)
      return undefined
    }
    return entry.address
  }

  get size(): number {
    return this.#moved.size
  }

  #prune(): void {
    const now = Date.now()
    for (const [sid, entry] of this.#moved) if (entry.until <= now) this.#moved.delete(sid)
  }

  close(): void {
    clearInterval(this.#sweep)
    this.#moved.clear()
  }
}

export interface ForwarderDeps {
  bridge: CiBridge
  backend: () => Backend
  moved: MovedSessions
  /** Is the SID on this node now (then the node handles the message itself)? */
  here: (sid: string) => boolean
  timeoutMs: number
  log: FastifyBaseLogger
  count?: (outcome: 'forwarded' | 'failed') => void
}

/**
 * PROTOCOL.md 4.1 / 5.4: a CI message aimed at one SID that reaches this node's own address after the
 * session moved to another node is handed to that node, and its RESULT (the holding node's answer)
 * is sent back to the CI once. Resolves true when it forwarded (the caller does nothing more), false
 * for every message that is not one of these. A message that came on the broadcast address is not
 * forwarded: the holding node receives it there too.
 */
export function createForwarder(deps: ForwarderDeps) {
  // `false` at once for what is not forwarded (every message but those few): no promise per message.
  return function forward(message: CiMessage, meta: CiMeta): boolean | Promise<boolean> {
    if (meta.source !== 'node' || !SID_TARGETED_TYPES.has(message.type) || !('sid' in message)) return false
    const { sid } = message
    if (deps.here(sid)) return false
    const address = deps.moved.addressOf(sid)
    if (address === undefined) return false
    return forwardTo(deps, message, meta, sid, address)
  }
}

/** Hands `message` to the node that holds `sid` now, and its answer back to the CI. */
async function forwardTo(
  deps: ForwarderDeps,
  message: CiMessage,
  meta: CiMeta,
  sid: string,
  address: string,
): Promise<boolean> {
  const details = { sid, type: message.type, messageId: meta.messageId, to: address }
  if (!meta.replyTo) {
    // Settled (accepted) once the new node's queue has it; a failure rejects it (dead-letter).
    await deps.bridge.send(address, message, FORWARD_SEND)
    deps.count?.('forwarded')
    deps.log.debug(details, 'CI message forwarded to the node that holds the session')
    return true
  }
  let answer: object
  try {
    answer = (await deps.bridge.request(address, message, { ...FORWARD_SEND, timeoutMs: deps.timeoutMs }))
      .body as object
    deps.count?.('forwarded')
    deps.log.debug(details, 'CI message forwarded to the node that holds the session')
  } catch (err) {
    deps.count?.('failed')
    deps.log.warn({ ...details, err }, 'CI message for a moved session: its new node did not answer')
    answer = resultError(
      'UNAVAILABLE',
      `session ${sid} moved to another node (${address}), which did not answer in time; retry there`,
    )
  }
  await deps
    .backend()
    .reply(meta, answer as Parameters<Backend['reply']>[1])
    .catch((err: unknown) => deps.log.warn({ ...details, err }, 'RESULT of a forwarded message not sent'))
  return true
}
