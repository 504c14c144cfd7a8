import type { CiMessage } from '@session-gateway/message-schema'
import type { FastifyInstance } from 'fastify'
import type { ResumeOptions, SessionRegistry } from 'fastify-ws-sessions'
import type { Backend, CiMeta } from '../backend/types.js'
import type { GatewayConfig } from '../config/load-config.js'
import { drainNode } from './drain.js'
import { createForwarder, MovedSessions } from './forwarding.js'
import { type NodeLiveness, startNodeLiveness } from './heartbeat.js'
import { increment, type NodeCounts, newNodeCounts } from './metrics.js'
import { startTakeover, type Takeover } from './takeover.js'

export interface NodeServices {
  /** Takeovers and forwards so far (metrics). */
  readonly counts: NodeCounts
  /** The sessions plugin's `resume.locate` (resume on, with a broker). */
  readonly locate: ResumeOptions['locate'] | undefined
  /**
   * Forwards a CI message for a session this node handed over; true when it did (see forwarding.ts).
   * `false` at once, without a promise, for a message that is not for such a session.
   */
  forward(message: CiMessage, meta: CiMeta): boolean | Promise<boolean>
  /** Resolves once the node's takeover address is attached (at once when there is none). */
  readonly ready: Promise<void>
  /** Why the node is not ready yet: its takeover address is not attached (readiness 503 until it is). */
  problem(): string | undefined
  /** SIGTERM with resume on and a broker: readiness is 503 already; 1012 to every connection, takeovers until done. */
  drain(): Promise<void>
  /** Ends every session left (CLIENT_DISCONNECTED each), NODE_STOPPED, the takeover address detached. */
  stop(): Promise<void>
}

/**
 * What makes the gateway one node among several (PROTOCOL.md 4.3, 5.4): liveness messages to the User
 * Manager, cross-node takeover of resumed sessions, forwarding for sessions that moved, and the drain
 * of a rolling deploy. In embedded mode (one process) only `stop` does anything.
 */
export function startNodeServices(
  app: FastifyInstance,
  config: GatewayConfig,
  deps: { backend: () => Backend; instance: string; sessions: () => SessionRegistry },
): NodeServices {
  const log = app.log
  const amqp = config.bridge.url !== undefined
  const liveness: NodeLiveness | undefined = amqp
    ? startNodeLiveness({
        backend: deps.backend,
        nodeId: config.node.id,
        instance: deps.instance,
        intervalMs: config.node.heartbeatMs,
        sessions: () => deps.sessions().size,
        log,
      })
    : undefined
  const resumeOn = config.resume.windowMs > 0
  const counts = newNodeCounts()
  let takeover: Takeover | undefined
  let moved: MovedSessions | undefined
  let forwarder: ReturnType<typeof createForwarder> | undefined
  let wakeDrain: () => void = () => {}
  if (amqp && resumeOn && config.bridge.profile === 'rabbitmq') {
    const bridge = app.ciBridge
    moved = new MovedSessions(config.resume.windowMs)
    takeover = startTakeover({
      bridge,
      sessions: deps.sessions,
      nodeId: config.node.id,
      queuePrefix: config.bridge.queuePrefix,
      timeoutMs: config.node.takeoverTimeoutMs,
      moved,
      log,
      onHandedOver: () => wakeDrain(),
      count: (event) => increment(counts.takeovers, event),
    })
    forwarder = createForwarder({
      bridge,
      backend: deps.backend,
      moved,
      here: (sid) => deps.sessions().has(sid),
      timeoutMs: config.bridge.sendTimeoutMs,
      log,
      count: (outcome) => increment(counts.forwarded, outcome),
    })
  } else if (amqp && resumeOn) {
    log.warn(
      'AMQP_PROFILE=generic: cross-node takeover needs the rabbitmq profile; a resume on another node than the session gets a new session (unavailable)',
    )
  }
  let stopping: Promise<void> | undefined
  return {
    counts,
    locate: takeover?.locate,
    ready: takeover ? takeover.ready.catch(() => {}) : Promise.resolve(),
    problem: () =>
      takeover && !takeover.attached
        ? 'the takeover address is not attached yet (cross-node resume)'
        : undefined,
    forward(message, meta) {
      if (!forwarder || !takeover) return false
      const waiting = 'sid' in message ? takeover.settling(message.sid) : undefined
      if (waiting) return waiting.then(() => forwarder(message, meta))
      return forwarder(message, meta)
    },
    async drain() {
      if (!takeover) return
      const drainMs = Math.min(config.node.drainMs, config.resume.windowMs)
      const drain = drainNode(deps.sessions(), drainMs, log)
      wakeDrain = drain.wake
      const { left } = await drain.done
      if (left === 0 && moved && moved.size > 0) {
        // Every session moved. CI messages the CI sent here before it heard CLIENT_RESUMED are still on
        // their way: keep forwarding them a little longer before the node's address goes away.
        log.info(
          { lingerMs: config.node.takeoverTimeoutMs },
          'drained: forwarding a little longer before stopping',
        )
        await new Promise((resolve) => setTimeout(resolve, config.node.takeoverTimeoutMs))
      }
    },
    stop() {
      stopping ??= (async () => {
        await deps.sessions().shutdown()
        await liveness?.stopped()
        await takeover?.close()
        moved?.close()
      })()
      return stopping
    },
  }
}
