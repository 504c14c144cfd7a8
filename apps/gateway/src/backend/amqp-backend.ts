import type { FastifyInstance } from 'fastify'
import fastifyCiBridge, { type CiBridge } from 'fastify-ci-bridge'
import type { GatewayConfig } from '../config/load-config.js'
import { checkNodeId, NODE_RECHECK_MS, type NodeIdCheck } from './node-id-check.js'
import { traceOf, traceProperties } from './trace.js'
import type { Backend, BackendStats, CiMessageHandler } from './types.js'
import { checkUmQueue, type UmQueueCheck } from './um-queue-check.js'
import { umQueueName } from './um-queue-name.js'

/** Counts what a promise of a send came to (`done`'s callbacks are made once, not per send). */
function counted<T>(work: Promise<T>, done: { ok: () => void; failed: () => void }): Promise<T> {
  work.then(done.ok, done.failed)
  return work
}

/** Send options of the sends to the UM, made once: most sends carry no trace. */
const LIFECYCLE_SEND = { bypassOutboxLimit: true } as const
const EVENT_SEND = { bypassOutboxLimit: false } as const

const LIFECYCLE_TYPES: ReadonlySet<string> = new Set([
  'CLIENT_DISCONNECTED',
  'CLIENT_DETACHED',
  'CLIENT_RESUMED',
])

/** The configuration of a node with a broker (AMQP_URL set). */
export type AmqpConfig = Pick<GatewayConfig, 'node' | 'umQueue'> & {
  bridge: GatewayConfig['bridge'] & { url: string[] }
}

/**
 * Registers the AMQP bridge on `app` and returns it as the gateway's Backend. It consumes CI
 * messages once given their handler (`consume`), and connects when the app is ready.
 */
export async function registerAmqpBackend(
  app: FastifyInstance,
  config: AmqpConfig,
  instance: string,
): Promise<Backend> {
  await app.register(fastifyCiBridge, { ...config.bridge, nodeId: config.node.id })
  const bridge = app.ciBridge
  const counts = {
    um: { sent: 0, accepted: 0, rejected: 0 },
    results: { accepted: 0, failed: 0 },
    nodeCheckPings: { answered: 0, unanswered: 0 },
  }
  const umDone = { ok: () => counts.um.accepted++, failed: () => counts.um.rejected++ }
  const resultDone = { ok: () => counts.results.accepted++, failed: () => counts.results.failed++ }
  const nodeCheck = watchNodeAddress(app, bridge, config, instance, counts.nodeCheckPings)
  const umQueue = watchUmQueue(app, config, bridge)
  return {
    kind: 'amqp',
    get nodeIdCheck() {
      return nodeCheck.outcome
    },
    get state() {
      return bridge.state
    },
    get failingOver() {
      return bridge.failingOver
    },
    get brokerUrl() {
      return bridge.connectedUrl
    },
    get problem() {
      return umQueue.problem()
    },
    get nodeReplyTo() {
      return bridge.nodeReplyTo
    },
    consume: (handler: CiMessageHandler) => bridge.consume(handler),
    // One CLIENT_DISCONNECTED per session (and with resume, one CLIENT_DETACHED / CLIENT_RESUMED per
    // drop and return), which nobody can retry: a mass disconnect (a load balancer restart, a network
    // blip) must not lose them to the outbox bound that pushes back on client events. They are
    // bounded by the sessions this node holds, and still time out.
    sendToUserManager: (body, options = {}) => {
      const queuedBefore = bridge.sentCount
      const lifecycle = LIFECYCLE_TYPES.has(body.type)
      // A lifecycle message of a burst (sessions-wiring.ts): a literal per such send, no cache.
      const base =
        options.coalesceMs !== undefined
          ? { bypassOutboxLimit: lifecycle, coalesceMs: options.coalesceMs }
          : lifecycle
            ? LIFECYCLE_SEND
            : EVENT_SEND
      // NODE_HEARTBEAT: not durable, with a ttl (nodes/heartbeat.ts).
      const shaped =
        options.durable !== undefined || options.ttl !== undefined
          ? {
              ...base,
              ...(options.durable !== undefined ? { durable: options.durable } : {}),
              ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
            }
          : base
      const sent = bridge.sendToUserManager(
        body,
        options.trace ? { ...shaped, applicationProperties: traceProperties(options.trace) } : shaped,
      )
      // Refused before it was queued (outbox full, closed): never sent, so not counted.
      if (bridge.sentCount === queuedBefore) return sent
      counts.um.sent++
      return counted(sent, umDone)
    },
    reply: (meta, body) => {
      const trace = traceOf(meta.applicationProperties)
      const sent = bridge.reply(meta, body, {
        ...(trace ? { applicationProperties: traceProperties(trace) } : {}),
      })
      return counted(sent, resultDone)
    },
    stats: (): BackendStats => {
      const s = bridge.stats
      return {
        outboxDepth: s.outboxDepth,
        inFlight: s.inFlight,
        reconnects: s.reconnects,
        ...counts.um,
        // With the RESULT errors the bridge sends itself for the messages it rejects.
        results: {
          accepted: counts.results.accepted + s.replyErrors.sent,
          failed: counts.results.failed + s.replyErrors.failed,
        },
        nodeCheckPings: { ...counts.nodeCheckPings },
        allSent: s.sent,
        receivedByType: s.receivedByType,
        settlements: s.settlements,
      }
    },
  }
}

const UM_QUEUE_RETRY_MS = 2000

/**
 * With UM_QUEUE_TYPE: checks the User Manager queue's type once the broker is open (again every
 * 2 s while no node answered the check), and says why the node is not ready until it passed.
 */
function watchUmQueue(
  app: FastifyInstance,
  config: AmqpConfig,
  bridge: CiBridge,
): { problem(): string | undefined } {
  const type = config.umQueue.type
  const queue = umQueueName(config.bridge.userManagerAddress ?? bridge.userManagerAddress)
  if (type === undefined || queue === undefined) return { problem: () => undefined }
  let check: UmQueueCheck = { state: 'pending' }
  let running = false
  let closed = false
  let retry: NodeJS.Timeout | undefined
  const run = () => {
    if (closed || running || check.state !== 'pending' || bridge.state !== 'open') return
    running = true
    checkUmQueue(config.bridge.url, queue, type)
      .then((outcome) => {
        check = outcome
        if (outcome.state === 'wrong') app.log.error({ queue, type }, outcome.problem)
        else if (outcome.state === 'ok') app.log.info({ queue, type }, 'User Manager queue checked')
      })
      .finally(() => {
        running = false
        if (check.state === 'pending' && !closed) {
          retry = setTimeout(run, UM_QUEUE_RETRY_MS)
          retry.unref()
        }
      })
  }
  bridge.on('state', run)
  app.addHook('onClose', async () => {
    closed = true
    clearTimeout(retry)
  })
  run()
  return {
    problem() {
      if (check.state === 'ok') return undefined
      if (check.state === 'wrong') return check.problem
      return `the User Manager queue '${queue}' is not checked yet (UM_QUEUE_TYPE=${type})${check.lastError ? `: ${check.lastError}` : ''}`
    },
  }
}

/**
 * Runs the node check once the broker first connects (PINGs to the node's own reply address: is
 * another process on this node id? does the address reach this node at all?), logs what it found,
 * and, while the address is unreachable, checks again every NODE_RECHECK_MS.
 */
function watchNodeAddress(
  app: FastifyInstance,
  bridge: CiBridge,
  config: AmqpConfig,
  instance: string,
  pings: BackendStats['nodeCheckPings'],
): { readonly outcome: NodeIdCheck } {
  let outcome: NodeIdCheck = 'pending'
  let recheck: NodeJS.Timeout | undefined
  let closed = false
  app.addHook('onClose', async () => {
    closed = true
    clearTimeout(recheck)
  })
  const run = (pingCount?: number) => {
    checkNodeId(bridge, instance, config.bridge.sendTimeoutMs, {
      onPing: (answered) => (answered ? pings.answered++ : pings.unanswered++),
      ...(pingCount ? { pings: pingCount } : {}),
    })
      .then((found) => {
        if (closed) return
        const before = outcome
        outcome = found
        if (found === 'conflict') {
          app.log.error(
            { nodeId: config.node.id },
            'another running gateway uses this GATEWAY_NODE_ID: CI messages for the sessions of either are lost about half the time; give every node its own id',
          )
        } else if (found === 'unreachable') {
          if (before !== 'unreachable') {
            app.log.error(
              {
                nodeId: config.node.id,
                nodeReplyTo: bridge.nodeReplyTo,
                timeoutMs: config.bridge.sendTimeoutMs,
              },
              'this node does not receive what is sent to its own reply address (NODE_REPLY_TO / NODE_ADDRESS): no CI message or RESULT reaches it; /readyz says 503 until it does',
            )
          }
          recheck = setTimeout(() => run(1), NODE_RECHECK_MS)
          recheck.unref()
        } else if (before === 'unreachable') {
          app.log.info({ nodeReplyTo: bridge.nodeReplyTo }, 'the node receives its own reply address again')
        }
      })
      .catch(() => {
        outcome = 'skipped'
      })
  }
  const onState = (state: string) => {
    if (state !== 'open' || outcome !== 'pending') return
    bridge.off('state', onState)
    run()
  }
  bridge.on('state', onState)
  onState(bridge.state)
  return {
    get outcome() {
      return outcome
    },
  }
}
