import type { FastifyBaseLogger } from 'fastify'
import type { SessionRegistry } from 'fastify-ws-sessions'

/** How often the drain looks whether sessions are left, besides each hand-over waking it. */
const CHECK_MS = 100

export interface DrainOutcome {
  /** Connections closed with 1012. */
  closed: number
  /** Sessions still on the node when the drain ended (they end with the shutdown that follows). */
  left: number
  /** True when the drain time ran out with sessions left. */
  timedOut: boolean
}

/**
 * A rolling deploy's drain (PROTOCOL.md 4.1, 5.4): no new sessions, every connection closed with 1012
 * (its session detached, for its client to resume on another node), then wait until no session is
 * left (each was taken over, or ended) or `drainMs` has passed. The caller then shuts down, which
 * ends the rest (CLIENT_DISCONNECTED each) and sends NODE_STOPPED. `wake()` lets a hand-over end the
 * wait at once.
 */
export function drainNode(
  sessions: SessionRegistry,
  drainMs: number,
  log: FastifyBaseLogger,
): { done: Promise<DrainOutcome>; wake(): void } {
  let wake: () => void = () => {}
  const done = (async () => {
    const closed = sessions.drain(1012, 'service restart')
    log.info(
      { closed, sessions: sessions.size, drainMs },
      'draining: waiting for other nodes to take sessions over',
    )
    const deadline = Date.now() + drainMs
    while (sessions.size > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(CHECK_MS, Math.max(0, deadline - Date.now())))
        wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
    const left = sessions.size
    log.info({ left, timedOut: left > 0 }, left > 0 ? 'drain time over: ending the sessions left' : 'drained')
    return { closed, left, timedOut: left > 0 }
  })()
  return { done, wake: () => wake() }
}
