import { nodeHeartbeat, nodeStopped } from '@session-gateway/message-schema'
import type { FastifyBaseLogger } from 'fastify'
import type { Backend } from '../backend/types.js'

/** How often a node that has not sent its first heartbeat yet looks whether the broker is open. */
const FIRST_BEAT_POLL_MS = 200

export interface NodeLivenessDeps {
  backend: () => Backend
  nodeId: string
  /** New for every process (PROTOCOL.md 4.3). */
  instance: string
  /** 0: no NODE_HEARTBEAT (NODE_STOPPED is still sent). */
  intervalMs: number
  /** Live and detached sessions the node holds. */
  sessions: () => number
  log: FastifyBaseLogger
}

export interface NodeLiveness {
  /** Stops the heartbeats and sends NODE_STOPPED (resolves once the broker accepted it, or it failed). */
  stopped(): Promise<void>
}

/**
 * PROTOCOL.md 4.3: NODE_HEARTBEAT every `intervalMs` (first as soon as the broker is open), with AMQP
 * ttl = 3 x intervalMs and not durable (a stale heartbeat is worth nothing), and NODE_STOPPED as the
 * last message of a graceful shutdown (durable: a UM that is down meanwhile still learns it; not sent
 * when the broker is away at that point). A beat
 * is skipped while the broker is away, so heartbeats never pile up in the outbox.
 */
export function startNodeLiveness(deps: NodeLivenessDeps): NodeLiveness {
  const { nodeId, instance, intervalMs } = deps
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  let beating = false
  const beat = async (): Promise<boolean> => {
    const backend = deps.backend()
    if (stopped || beating || backend.state !== 'open') return false
    beating = true
    try {
      await backend.sendToUserManager(
        nodeHeartbeat({ node: nodeId, instance, sessions: deps.sessions(), intervalMs }),
        { durable: false, ttl: 3 * intervalMs },
      )
      return true
    } catch (err) {
      deps.log.warn({ err }, 'NODE_HEARTBEAT not accepted by the broker')
      return false
    } finally {
      beating = false
    }
  }
  const every = () => {
    timer = setInterval(() => void beat(), intervalMs)
    timer.unref()
  }
  const first = () => {
    if (stopped) return
    if (deps.backend().state === 'open') {
      void beat()
      every()
      return
    }
    timer = setTimeout(first, FIRST_BEAT_POLL_MS)
    timer.unref()
  }
  if (intervalMs > 0) first()
  return {
    async stopped() {
      if (stopped) return
      stopped = true
      clearTimeout(timer)
      clearInterval(timer)
      // With the broker away it could not arrive anyway, and waiting a send timeout for it would stretch
      // the shutdown past its bound: the UM sees the heartbeats stop instead.
      if (deps.backend().state !== 'open') {
        deps.log.warn('broker not connected: NODE_STOPPED not sent')
        return
      }
      try {
        await deps.backend().sendToUserManager(nodeStopped({ node: nodeId, instance }))
      } catch (err) {
        deps.log.warn({ err }, 'NODE_STOPPED not accepted by the broker')
      }
    },
  }
}
