import { randomBytes } from 'node:crypto'
import type { CiMessage } from '@session-gateway/message-schema'
import Fastify, { type FastifyInstance, LogController } from 'fastify'
import fastifyWsSessions, { type ResumeOptions, type WsSessionsOptions } from 'fastify-ws-sessions'
import { createJwtAuthenticator, createJwtVerifier, type TokenVerifier } from './auth/jwt-authenticator.js'
import { registerAmqpBackend } from './backend/amqp-backend.js'
import { EMBEDDED_BROADCAST_ADDRESS, EMBEDDED_NODE_ADDRESS, EmbeddedBus } from './backend/embedded-bus.js'
import type { Backend, CiMessageHandler, CiMeta } from './backend/types.js'
import { createCiDispatcher } from './ci-dispatcher.js'
import { API_MAX_CONNECTIONS } from './config/connection-budget.js'
import type { GatewayConfig } from './config/load-config.js'
import type { ConnectionGuard } from './connections/connection-guard.js'
import { guardConnections, serverTimeouts } from './connections/wiring.js'
import { createDemoUserManager } from './demo/demo-user-manager.js'
import { prepareApi, registerApiRoutes } from './http/api.js'
import { registerDemoPage } from './http/demo-page.js'
import { logSerializers } from './http/log-serializers.js'
import { createCounters, createMetrics, type GatewayCounters } from './http/metrics.js'
import { createLogDestination } from './log-destination.js'
import { LogThrottle } from './log-throttle.js'
import { registerNodeMetrics } from './nodes/metrics.js'
import { type NodeServices, startNodeServices } from './nodes/wiring.js'
import { sessionOptions } from './sessions-wiring.js'
import { registerSocketIoFromConfig } from './socketio/endpoint.js'

/**
 * Longest path parameter, as sent (percent-encoded): a user id of 256 characters (a JWT sub) or a room
 * name of 128, each up to 4 bytes of UTF-8 written as %XX (Fastify's default, 100, answers 414 sooner).
 */
const MAX_PARAM_LENGTH = 256 * 12

export interface GatewayOverrides {
  /** A pino-compatible logger instance or Fastify logger options (default: pino at config.logLevel). */
  logger?: boolean | { level: string }
  /** Client authentication before the upgrade (see fastify-ws-sessions); default: JWT when AUTH_* is configured. */
  authenticate?: WsSessionsOptions['authenticate']
  /**
   * Runs for every valid CI message before the node handles it, with its AMQP metadata: ids,
   * reply_to and `applicationProperties` (e.g. the CI's W3C `traceparent`). Throwing rejects the
   * message like a failed handler (settled rejected; RESULT error INTERNAL when it has a reply_to).
   */
  onCiMessage?: (message: CiMessage, meta: CiMeta) => void | Promise<void>
  /**
   * The Socket.IO endpoint's check of CONNECT's `auth.token` (default: the JWT check of AUTH_*). Needed
   * with GATEWAY_SOCKETIO and a custom `authenticate`, which reads an HTTP request a CONNECT has not.
   */
  verifySocketIoToken?: (token: string) => Promise<Record<string, unknown>>
}

export interface Gateway {
  readonly config: GatewayConfig
  /** The WebSocket listener (and the HTTP API, when it shares the listener). */
  readonly app: FastifyInstance
  /** The separate HTTP API listener, when GATEWAY_API_PORT is set. */
  readonly api: FastifyInstance | undefined
  readonly backend: Backend
  /** The in-process bus, in embedded mode. */
  readonly embedded: EmbeddedBus | undefined
  /** The connection-level bounds of the WebSocket listener (open and pending connections). */
  readonly connections: ConnectionGuard
  /** Starts the listeners; resolves with their URLs. */
  listen(): Promise<{ wsUrl: string; httpUrl: string; apiUrl: string }>
  /** Graceful stop: readiness 503, no new sessions, every session closed with 1001 and reported, NODE_STOPPED, links closed. */
  close(): Promise<void>
  /**
   * SIGTERM: with resume on and a broker, a rolling deploy's drain first (readiness 503, 1012 to every
   * connection, takeovers served until every session moved or GATEWAY_DRAIN_MS), then `close()`.
   * Otherwise `close()` alone.
   */
  drainAndClose(): Promise<void>
  readonly shuttingDown: boolean
}

/** Composes the gateway: sessions plugin + AMQP bridge (or the embedded bus), CI dispatcher, HTTP API. */
export async function buildGateway(
  config: GatewayConfig,
  overrides: GatewayOverrides = {},
): Promise<Gateway> {
  const startedAt = Date.now()
  /** This process (not the node id, which an operator chooses): in PING answers. */
  const instance = randomBytes(6).toString('hex')
  const app = createApp(config, overrides.logger)
  const verifyToken = jwtVerifier(config.auth)
  const api = config.http.apiPort === undefined ? undefined : createApiListener(app, config)
  const apiApp = api ?? app
  const counters = createCounters()
  const warnings = new LogThrottle(app.log)
  app.addHook('onClose', async () => warnings.flush())

  // Shutdown runs the hooks in this order's reverse: transport first (closes last), API before sessions.
  const { backend, embedded } = await registerTransport(app, config, instance)
  // Liveness, cross-node takeover, forwarding and the drain (src/nodes).
  const services = startNodeServices(app, config, {
    backend: () => backend,
    instance,
    sessions: () => app.wsSessions,
  })
  await prepareApi(apiApp, config.http.adminToken)
  const sessions = await registerSessions(app, config, {
    backend,
    warnings,
    counters,
    authenticate: overrides.authenticate ?? jwtAuthenticator(verifyToken),
    locate: services.locate,
  })
  const dispatch = createCiDispatcher({
    sessions: app.wsSessions,
    nodeId: config.node.id,
    startedAt,
    reply: (meta, body) => backend.reply(meta, body),
    log: app.log,
    instance,
    warnings,
    count: counters.ciMessage,
  })
  const onCiMessage = overrides.onCiMessage
  // A session this node handed over to another node: its new node answers. A message for this node
  // is dispatched in the turn it arrived, without a promise, unless something on its way needs one.
  const route: CiMessageHandler = (message, meta) => {
    const forwarded = services.forward(message, meta)
    if (forwarded === false) return dispatch(message, meta)
    if (forwarded === true) return undefined
    return forwarded.then((done) => (done ? undefined : dispatch(message, meta)))
  }
  backend.consume(
    onCiMessage === undefined
      ? route
      : (message, meta) => Promise.resolve(onCiMessage(message, meta)).then(() => route(message, meta)),
  )
  // After the sessions plugin: its preClose (the drain, with 503s to new upgrades) runs before the
  // guard closes what has no complete request.
  const connections = guardListeners(app, api, config, { warnings, counters })
  const metrics = createMetrics(config.node.id, { sessions: app.wsSessions, backend, connections }, counters)
  registerNodeMetrics(metrics.registry, services.counts)
  await registerApiRoutes(
    apiApp,
    {
      sessions: app.wsSessions,
      backend,
      metrics,
      nodeId: config.node.id,
      startedAt,
      isShuttingDown: () => sessions.shuttingDown,
      adminToken: config.http.adminToken,
      problem: () => services.problem(),
    },
    { wsPath: config.sessions.path, addresses: documentedAddresses(config, backend, embedded) },
  )
  for (const warning of config.warnings) app.log.warn(warning)
  if (config.http.demoPage) await registerDemoPage(app)
  await registerSocketIoFromConfig(app, config, {
    customAuthenticate: overrides.authenticate !== undefined,
    verifySocketIoToken: overrides.verifySocketIoToken,
    verifyToken,
  })
  return gatewayHandle({ config, app, api, backend, embedded, connections, sessions, services })
}

/** The WebSocket listener's app: its logger (pino at LOG_LEVEL with the node id), proxies, timeouts. */
function createApp(config: GatewayConfig, logger: GatewayOverrides['logger']): FastifyInstance {
  const { logLevel, id } = config.node
  const loggerOptions = logger ?? { level: logLevel }
  return Fastify({
    trustProxy: config.http.trustProxy,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ...serverTimeouts(config.http),
    logger:
      loggerOptions === false
        ? false
        : {
            level: loggerOptions === true ? logLevel : loggerOptions.level,
            base: { node: id },
            serializers: logSerializers,
            stream: createLogDestination(),
          },
    logController: new LogController({
      disableRequestLogging: logLevel !== 'debug' && logLevel !== 'trace',
    }),
  })
}

/** The separate API listener (GATEWAY_API_PORT): the same timeouts, the WebSocket app's logger. */
function createApiListener(app: FastifyInstance, config: GatewayConfig): FastifyInstance {
  return Fastify({
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ...serverTimeouts(config.http),
    loggerInstance: app.log.child({ listener: 'api' }),
    logController: new LogController({ disableRequestLogging: true }),
  })
}

/** JWT authentication when AUTH_JWT_SECRET or AUTH_JWKS_FILE is set. */
/** The JWT check of AUTH_* (the upgrade's and the Socket.IO CONNECT's), or undefined without one. */
function jwtVerifier(auth: GatewayConfig['auth']): TokenVerifier | undefined {
  return auth.secret || auth.jwksFile ? createJwtVerifier(auth) : undefined
}

function jwtAuthenticator(verify: TokenVerifier | undefined): WsSessionsOptions['authenticate'] {
  return verify ? createJwtAuthenticator(verify) : undefined
}

/** The broker link: the AMQP bridge with AMQP_URL, else the in-process bus with the demo User Manager. */
async function registerTransport(
  app: FastifyInstance,
  config: GatewayConfig,
  instance: string,
): Promise<{ backend: Backend; embedded: EmbeddedBus | undefined }> {
  const url = config.bridge.url
  if (url) {
    const backend = await registerAmqpBackend(app, { ...config, bridge: { ...config.bridge, url } }, instance)
    return { backend, embedded: undefined }
  }
  const bus = new EmbeddedBus((reason, meta) =>
    app.log.warn({ messageId: meta.messageId, reason }, 'CI message rejected'),
  )
  bus.onUserManagerMessage(
    createDemoUserManager(
      {
        toNode: (_address, body) => bus.sendToNode(body),
        requestNode: (_address, body) => bus.request(body),
        toAllNodes: (body) => bus.sendToNode(body, { broadcast: true }),
      },
      app.log.child({ component: 'demo-user-manager' }),
    ),
  )
  app.addHook('onClose', async () => bus.close())
  return { backend: bus, embedded: bus }
}

/** The node's shutdown state, as the sessions wiring and the readiness route see it. */
interface SessionsHandle {
  readonly shuttingDown: boolean
  /** Readiness 503 from now on, and every connect waiting for the broker stops. */
  stop(): void
}

/** The sessions plugin, wired to the User Manager through `backend` (see sessions-wiring.ts). */
async function registerSessions(
  app: FastifyInstance,
  config: GatewayConfig,
  deps: {
    backend: Backend
    warnings: LogThrottle
    counters: GatewayCounters
    authenticate: WsSessionsOptions['authenticate']
    locate: ResumeOptions['locate'] | undefined
  },
): Promise<SessionsHandle> {
  let shuttingDown = false
  // Every connect waiting for its CLIENT_CONNECTED stops waiting when it aborts (one listener for all).
  const stopping = new AbortController()
  await app.register(
    fastifyWsSessions,
    sessionOptions(config, {
      warnings: deps.warnings,
      stopping: stopping.signal,
      backend: deps.backend,
      nodeId: config.node.id,
      log: app.log,
      onClientEvent: deps.counters.clientEvent,
      ...(deps.authenticate ? { authenticate: deps.authenticate } : {}),
      ...(deps.locate ? { locate: deps.locate } : {}),
    }),
  )
  return {
    get shuttingDown() {
      return shuttingDown
    },
    stop() {
      shuttingDown = true
      stopping.abort()
    },
  }
}

/** The connection bounds of the WebSocket listener (returned) and of the separate API listener. */
function guardListeners(
  app: FastifyInstance,
  api: FastifyInstance | undefined,
  config: GatewayConfig,
  deps: { warnings: LogThrottle; counters: GatewayCounters },
): ConnectionGuard {
  const { maxConnections, maxPendingPerAddress, trustProxy } = config.http
  const count = deps.counters.connectionRefused
  if (api) {
    guardConnections(api, {
      maxConnections: API_MAX_CONNECTIONS,
      maxPendingPerAddress,
      trustProxy: false,
      warnings: deps.warnings,
      log: api.log,
      count,
    })
  }
  return guardConnections(app, {
    maxConnections,
    maxPendingPerAddress,
    trustProxy,
    warnings: deps.warnings,
    log: app.log,
    count,
  })
}

/** The addresses the AsyncAPI document names. */
function documentedAddresses(config: GatewayConfig, backend: Backend, embedded: EmbeddedBus | undefined) {
  if (embedded) {
    return {
      umAddress: 'embedded:user-manager',
      nodeAddress: EMBEDDED_NODE_ADDRESS,
      broadcastAddress: EMBEDDED_BROADCAST_ADDRESS,
    }
  }
  const { userManagerAddress, broadcastAddress } = config.bridge
  return {
    ...(userManagerAddress ? { umAddress: userManagerAddress } : {}),
    nodeAddress: backend.nodeReplyTo,
    ...(broadcastAddress ? { broadcastAddress } : {}),
  }
}

/** `scheme://host:port` of a listening app (0.0.0.0 shown as 127.0.0.1). */
function urlOf(instance: FastifyInstance, scheme: string): string {
  const address = instance.server.address()
  if (!address || typeof address === 'string') return ''
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`
}

/** The Gateway its caller holds: listen and close, over the parts buildGateway composed. */
function gatewayHandle(parts: {
  config: GatewayConfig
  app: FastifyInstance
  api: FastifyInstance | undefined
  backend: Backend
  embedded: EmbeddedBus | undefined
  connections: ConnectionGuard
  sessions: SessionsHandle
  services: NodeServices
}): Gateway {
  const { config, app, api, sessions, services } = parts
  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      sessions.stop()
      await services.stop()
      await app.close()
      if (api) await api.close()
    })()
    return closing
  }
  return {
    config,
    app,
    api,
    backend: parts.backend,
    embedded: parts.embedded,
    connections: parts.connections,
    get shuttingDown() {
      return sessions.shuttingDown
    },
    async listen() {
      await app.listen({ host: config.http.host, port: config.http.port })
      if (api) await api.listen({ host: config.http.apiHost, port: config.http.apiPort ?? 0 })
      const httpUrl = urlOf(app, 'http')
      return {
        httpUrl,
        wsUrl: `${urlOf(app, 'ws')}${config.sessions.path}`,
        apiUrl: api ? urlOf(api, 'http') : httpUrl,
      }
    },
    async drainAndClose() {
      if (!closing) {
        sessions.stop()
        await services.drain()
      }
      return close()
    },
    close,
  }
}
