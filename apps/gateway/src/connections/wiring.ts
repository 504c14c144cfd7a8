import type { ServerOptions } from 'node:http'
import { compile } from '@fastify/proxy-addr'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { LogThrottle } from '../log-throttle.js'
import { ConnectionGuard, type RefusalReason } from './connection-guard.js'

/** The Node HTTP server timeouts of a listener, as Fastify options. */
export function serverTimeouts(config: {
  headersTimeoutMs: number
  requestTimeoutMs: number
  keepAliveTimeoutMs: number
}): { requestTimeout: number; keepAliveTimeout: number; http: ServerOptions } {
  return {
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      // Node checks both timeouts every connectionsCheckingInterval (30 s by default, which would let a
      // 10 s headers timeout run to 40 s): a quarter of the headers timeout, between 100 ms and 1 s.
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(config.headersTimeoutMs / 4))),
    },
  }
}

/** The warning logged (throttled) for each reason; keep-alive idle closes are normal and only counted. */
const MESSAGES: Record<Exclude<RefusalReason, 'idle_timeout'>, string> = {
  headers_timeout: 'connection closed: request headers not complete within GATEWAY_HEADERS_TIMEOUT_MS',
  body_timeout: 'connection closed: request not complete within GATEWAY_REQUEST_TIMEOUT_MS',
  max_connections: 'connection refused: GATEWAY_MAX_CONNECTIONS open connections',
  max_connections_evicted:
    'connection closed to make room: the oldest without a complete request (GATEWAY_MAX_CONNECTIONS reached)',
  per_address:
    'connection refused: too many connections from this address without a complete request (GATEWAY_MAX_PENDING_PER_ADDRESS)',
}

export interface GuardWiring {
  maxConnections: number
  maxPendingPerAddress: number
  trustProxy: boolean | string[]
  warnings: LogThrottle
  log: FastifyBaseLogger
  count: (reason: RefusalReason) => void
}

/**
 * Puts a ConnectionGuard on a listener's server: connection caps, counted and logged refusals, the
 * client's address once the headers are in (429 past its cap), and pending connections closed at shutdown.
 * Add it after the plugins whose preClose must run first (the sessions plugin's drain).
 */
export function guardConnections(app: FastifyInstance, wiring: GuardWiring): ConnectionGuard {
  const trusted =
    typeof wiring.trustProxy === 'boolean' ? () => wiring.trustProxy === true : compile(wiring.trustProxy)
  const guard = new ConnectionGuard({
    maxConnections: wiring.maxConnections,
    maxPendingPerAddress: wiring.maxPendingPerAddress,
    isTrustedProxy: (address) => trusted(address, 0),
    onRefused(reason, remoteAddress) {
      wiring.count(reason)
      if (reason !== 'idle_timeout') {
        wiring.warnings.warn(wiring.log, { reason, remoteAddress }, MESSAGES[reason])
      }
    },
  })
  guard.attach(app.server)
  // A callback hook (no promise per request); a refusal is answered here and `done` is not called.
  app.addHook('onRequest', (request, reply, done) => {
    if (guard.addressKnown(request.raw.socket, request.ip)) {
      done()
      return
    }
    reply.code(429).header('connection', 'close').send({
      code: 'TOO_MANY_PENDING_CONNECTIONS',
      message: 'too many connections from this address without a complete request, retry later',
    })
  })
  app.addHook('preClose', async () => guard.closePending())
  return guard
}
