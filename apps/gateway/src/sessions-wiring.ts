import {
  ClientErrorCode,
  CloseCode,
  clientConnected,
  clientDetached,
  clientDisconnected,
  clientEvent,
  clientResumed,
} from '@session-gateway/message-schema'
import type { FastifyBaseLogger } from 'fastify'
import { hasBridgeErrorCode } from 'fastify-ci-bridge'
import { type ResumeOptions, type Session, SessionError, type WsSessionsOptions } from 'fastify-ws-sessions'
import type { Backend, UmSendOptions } from './backend/types.js'
import type { GatewayConfig } from './config/load-config.js'
import type { LogThrottle } from './log-throttle.js'

export interface WiringDeps {
  backend: Backend
  nodeId: string
  log: FastifyBaseLogger
  onClientEvent?: (outcome: 'accepted' | 'unavailable') => void
  authenticate?: WsSessionsOptions['authenticate']
  /** The per-event warnings (broker away) go through it, so an outage cannot flood the log. */
  warnings: LogThrottle
  /** Aborted when the node starts shutting down: a connect stops waiting for the broker. */
  stopping?: AbortSignal
  /** Cross-node takeover (resume on): find a session another node holds (see fastify-ws-sessions `locate`). */
  locate?: ResumeOptions['locate']
}

/** The `meta` a session reports: in CLIENT_CONNECTED, SESSION_INFO and the admin API. */
export function sessionMeta(s: {
  remoteAddress: string
  userAgent?: string | undefined
  origin?: string | undefined
  user?: Record<string, unknown> | undefined
}) {
  return {
    remoteAddress: s.remoteAddress,
    ...(s.userAgent !== undefined ? { userAgent: s.userAgent } : {}),
    ...(s.origin !== undefined ? { origin: s.origin } : {}),
    ...(s.user !== undefined ? { user: s.user } : {}),
  }
}

/**
 * The sessions plugin's `resume` option from the configuration: off at 0, else the window, bounds
 * and secret (unset only in embedded mode, where loadConfig allows it: one process, a random key).
 */
export function resumeOptions(
  config: Pick<GatewayConfig, 'resume' | 'node'>,
  locate?: ResumeOptions['locate'],
): ResumeOptions | false {
  if (config.resume.windowMs === 0) return false
  return { ...config.resume, nodeId: config.node.id, ...(locate ? { locate } : {}) }
}

/** `perSec` = 0 turns a token bucket off. */
const bucket = (perSec: number, burst: number) => (perSec === 0 ? false : { perSec, burst })

/**
 * `unlessStopped(work)`: `'done'` once `work` resolves (rejects as it does), or `'stopped'` as soon as
 * `signal` aborts. One abort listener for all the waits (a connect waits for its CLIENT_CONNECTED, and
 * thousands may at once): a wait joins and leaves a set, no EventTarget listener and no closure chain
 * per connect.
 */
function stopWatch(signal: AbortSignal | undefined): (work: Promise<void>) => Promise<'done' | 'stopped'> {
  if (!signal) return (work) => work.then(() => 'done' as const)
  const waiting = new Set<() => void>()
  signal.addEventListener(
    'abort',
    () => {
      for (const stop of waiting) stop()
      waiting.clear()
    },
    { once: true },
  )
  return (work) => {
    if (signal.aborted) {
      work.catch(() => {}) // the caller stops listening; its failure is not an unhandled rejection
      return Promise.resolve('stopped')
    }
    return new Promise((resolve, reject) => {
      const stop = () => resolve('stopped')
      waiting.add(stop)
      work.then(
        () => {
          waiting.delete(stop)
          resolve('done')
        },
        (err: unknown) => {
          waiting.delete(stop)
          reject(err)
        },
      )
    })
  }
}

/** Send options of an event without a trace, made once. */
const NO_TRACE = {} as const

/** A lifecycle message within this many ms of the previous one is part of a burst. */
const BURST_GAP_MS = 2

/**
 * A burst of connects, resumes or disconnects (a deploy, a broker failover, a load balancer restart:
 * everyone at once): a CLIENT_CONNECTED, CLIENT_RESUMED, CLIENT_DETACHED or CLIENT_DISCONNECTED
 * within BURST_GAP_MS of the previous one holds the node's AMQP writes for up to `coalesceMs`
 * (GATEWAY_LIFECYCLE_COALESCE_MS; the bridge's `coalesceMs`, ended early at 64 KiB), so a burst
 * leaves in a few writes and comes back accepted in a few ranges, not one write and one read per
 * session: the broker's CPU per connect halves (docs/PERFORMANCE.md, "B3: the burst's hold"). A
 * lone one is sent at once; 0 turns the hold off.
 */
function burstCoalescing(coalesceMs: number): () => UmSendOptions | undefined {
  if (coalesceMs === 0) return () => undefined
  const inBurst: UmSendOptions = { coalesceMs }
  let lastAt = Number.NEGATIVE_INFINITY
  return () => {
    const now = performance.now()
    const burst = now - lastAt < BURST_GAP_MS
    lastAt = now
    return burst ? inBurst : undefined
  }
}

/**
 * The WebSocket side of the gateway: the sessions plugin's options, with its hooks
 * wired to the User Manager. CLIENT_CONNECTED on connect (accepted by the broker
 * before the session's first frame is handled), CLIENT_DISCONNECTED exactly once
 * per session, every other event forwarded as CLIENT_EVENT and acknowledged only
 * once the broker accepted it.
 */
export function sessionOptions(
  config: Pick<GatewayConfig, 'sessions' | 'resume' | 'node'>,
  deps: WiringDeps,
): WsSessionsOptions {
  const {
    ratePerSec,
    rateBurst,
    rateMaxViolations,
    connectRatePerSec,
    connectBurst,
    addressConnectRatePerSec,
    addressConnectBurst,
    ...passed
  } = config.sessions
  return {
    ...passed,
    rateLimit: ratePerSec === 0 ? false : { ratePerSec, burst: rateBurst, maxViolations: rateMaxViolations },
    // Per client (maxSessionsPerClient too): the verified JWT sub when authenticated, else request.ip
    // (GATEWAY_TRUST_PROXY applies).
    connectRate: bucket(connectRatePerSec, connectBurst),
    // Per address (request.ip), before the JWT is verified: an address over its budget costs no crypto.
    addressConnectRate: bucket(addressConnectRatePerSec, addressConnectBurst),
    ...(deps.authenticate ? { authenticate: deps.authenticate } : {}),
    resume: resumeOptions(config, deps.locate),
    ...lifecycleHooks(deps, burstCoalescing(config.node.lifecycleCoalesceMs)),
    onEvent: eventHook(deps),
  }
}

/**
 * CLIENT_CONNECTED, CLIENT_DETACHED, CLIENT_RESUMED and CLIENT_DISCONNECTED: what the UM hears of a
 * session's life, each once and in order.
 */
function lifecycleHooks(
  deps: WiringDeps,
  coalescing: () => UmSendOptions | undefined,
): Pick<WsSessionsOptions, 'onConnect' | 'onDetach' | 'onResume' | 'onDisconnect'> {
  const { nodeId } = deps
  const unlessStopped = stopWatch(deps.stopping)
  // Sessions whose CLIENT_CONNECTED may have reached the UM (accepted, still queued, or timed out
  // with its fate unknown). One refused outright (outbox full, rejected, bridge closed) never did:
  // its CLIENT_DISCONNECTED would tell the UM of a session it never saw, and, since that message is
  // not bounded by the outbox, let clients reconnecting against a full outbox pile them up.
  const announced = new WeakSet<Session>()
  return {
    // Awaited: the session's frames are held until the broker accepted CLIENT_CONNECTED, so the UM
    // knows every session (and its user) before any of its events. When it cannot be accepted (broker
    // away past the send timeout, outbox full), the session is closed 1013: no event of a session the
    // UM was never told of is ever acknowledged. A shutdown stops the wait at once (the session is
    // closing with 1001 anyway): otherwise its CLIENT_DISCONNECTED, which the sessions plugin sends
    // only after this hook, would wait a second send timeout and a shutdown could overrun its bound.
    // CLIENT_CONNECTED stays queued ahead of it on the same link, so the UM still sees them in order.
    async onConnect(session) {
      try {
        const accepted = deps.backend.sendToUserManager(
          clientConnected({ sid: session.sid, node: nodeId, meta: sessionMeta(session) }),
          coalescing(),
        )
        const outcome = await unlessStopped(accepted)
        announced.add(session)
        if (outcome === 'stopped') {
          accepted.catch(() => {})
          throw new SessionError('SHUTTING_DOWN', 'the node is shutting down', {
            closeCode: CloseCode.GOING_AWAY,
          })
        }
      } catch (err) {
        if (err instanceof SessionError) throw err
        if (hasBridgeErrorCode(err, 'TIMEOUT')) announced.add(session)
        deps.warnings.warn(
          session.log,
          { err },
          'CLIENT_CONNECTED not accepted by the broker: closing the session (1013)',
        )
        throw new SessionError(ClientErrorCode.UNAVAILABLE, 'backend unavailable, try again later', {
          closeCode: CloseCode.TRY_AGAIN_LATER,
        })
      }
    },

    // Resume on: the UM hears CLIENT_DETACHED when the connection drops and CLIENT_RESUMED when the
    // client is back (its reply_to names the node that holds the session now), and CLIENT_DISCONNECTED
    // only when the session ends. The plugin runs a session's hooks one after another, so the UM gets
    // them in order. A session taken over from another node was announced there.
    async onDetach(session, code, reason) {
      if (!announced.has(session)) return
      try {
        await deps.backend.sendToUserManager(
          clientDetached({ sid: session.sid, node: nodeId, code, reason }),
          coalescing(),
        )
      } catch (err) {
        deps.warnings.warn(session.log, { err, code }, 'CLIENT_DETACHED not accepted by the broker')
      }
    },

    async onResume(session, { previousNode, replayed }) {
      announced.add(session)
      try {
        await deps.backend.sendToUserManager(
          clientResumed({ sid: session.sid, node: nodeId, previousNode, replayed }),
          coalescing(),
        )
      } catch (err) {
        deps.warnings.warn(session.log, { err, previousNode }, 'CLIENT_RESUMED not accepted by the broker')
      }
    },

    async onDisconnect(session, code, reason) {
      if (!announced.has(session)) return
      try {
        await deps.backend.sendToUserManager(
          clientDisconnected({ sid: session.sid, node: nodeId, code, reason }),
          coalescing(),
        )
      } catch (err) {
        deps.warnings.warn(session.log, { err, code }, 'CLIENT_DISCONNECTED not accepted by the broker')
      }
    },
  }
}

/** Every other event, forwarded as CLIENT_EVENT and acknowledged only once the broker accepted it. */
function eventHook(deps: WiringDeps): NonNullable<WsSessionsOptions['onEvent']> {
  const { nodeId } = deps
  const accepted = (): undefined => {
    deps.onClientEvent?.('accepted')
    return undefined
  }
  // Not an async function: the broker's promise with one continuation per event, no more.
  return (session, data, frame) => {
    // clientEvent leaves out the fields that are undefined: no spread objects made per event.
    const body = clientEvent({
      sid: session.sid,
      node: nodeId,
      event: frame.event,
      data,
      requestId: frame.id,
    })
    // The frame's W3C trace goes on as the CLIENT_EVENT's traceparent/tracestate application_properties.
    return deps.backend
      .sendToUserManager(body, frame.trace ? { trace: frame.trace } : NO_TRACE)
      .then(accepted, (err: unknown) => {
        deps.onClientEvent?.('unavailable')
        const detail = (err as { code?: string; message?: string }).code ?? 'error'
        deps.warnings.warn(
          session.log,
          { err, event: frame.event },
          'client event not accepted by the broker',
        )
        throw new SessionError(
          ClientErrorCode.UNAVAILABLE,
          `the event could not be delivered to the backend (${detail}); retry later`,
        )
      })
  }
}
