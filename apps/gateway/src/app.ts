import { randomBytes } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import type { CiMessage } from '@session-gateway/message-schema'
import Fastify, { type FastifyInstance, LogController } from 'fastify'
import fastifyWsSessions, { type WsSessionsOptions } from 'fastify-ws-sessions'
import { createJwtAuthenticator, createJwtVerifier } from './auth/jwt-authenticator.js'
import { registerAmqpBackend } from './backend/amqp-backend.js'
import { EMBEDDED_BROADCAST_ADDRESS, EMBEDDED_NODE_ADDRESS, EmbeddedBus } from './backend/embedded-bus.js'
import type { Backend, CiMessageHandler, CiMeta } from './backend/types.js'
import { createCiDispatcher } from './ci-dispatcher.js'
import { API_MAX_CONNECTIONS } from './config/connection-budget.js'
import type { GatewayConfig } from './config/load-config.js'
import type { ConnectionGuard } from './connections/connection-guard.js'
import { guardConnections, serverTimeouts } from './connections/wiring.js'
import { createDemoUserManager } from './demo/demo-user-manager.js'
import { registerApi } from './http/api.js'
import { registerDemoPage } from './http/demo-page.js'
import type { ApiDeps } from './http/deps.js'
import { logSerializers } from './http/log-serializers.js'
import { createMetrics } from './http/metrics.js'
import { createLogDestination } from './log-destination.js'
import { LogThrottle } from './log-throttle.js'
import { registerNodeMetrics } from './nodes/metrics.js'
import { type NodeServices, startNodeServices } from './nodes/wiring.js'
import { sessionOptions } from './sessions-wiring.js'
import { registerSocketIoDemoPage } from './socketio/demo-page.js'
import { registerSocketIo, socketIoOptions } from './socketio/endpoint.js'

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
   * The Socket.IO endpoint's check of CONNECT's `auth.token` (default: the JWT check of AUTH_*). Needed
   * with GATEWAY_SOCKETIO and a custom `authenticate`, which reads an HTTP request a CONNECT has not.
   */
  verifySocketIoToken?: (token: string) => Promise<Record<string, unknown>>
  /**
   * Runs for every valid CI message before the node handles it, with its AMQP metadata: ids,
   * reply_to and `applicationProperties` (e.g. the CI's W3C `traceparent`). Throwing rejects the
   * message like a failed handler (settled rejected; RESULT error INTERNAL when it has a reply_to).
   */
  onCiMessage?: (message: CiMessage, meta: CiMeta) => void | Promise<void>
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
  const verifyToken =
    config.jwtSecret || config.jwksFile
      ? createJwtVerifier({
          ...(config.jwtSecret ? { secret: config.jwtSecret } : {}),
          ...(config.jwksFile ? { jwksFile: config.jwksFile } : {}),
          ...(config.jwtAudience ? { audience: config.jwtAudience } : {}),
          ...(config.jwtIssuer ? { issuer: config.jwtIssuer } : {}),
        })
      : undefined
  const authenticate =
    overrides.authenticate ?? (verifyToken ? createJwtAuthenticator(verifyToken) : undefined)
  const loggerOptions = overrides.logger ?? { level: config.logLevel }
  const app = Fastify({
    trustProxy: config.trustProxy,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    ...serverTimeouts(config),
    logger:
      loggerOptions === false
        ? false
        : {
            level: loggerOptions === true ? config.logLevel : loggerOptions.level,
            base: { node: config.nodeId },
            serializers: logSerializers,
            stream: createLogDestination(),
          },
    logController: new LogController({
      disableRequestLogging: config.logLevel !== 'debug' && config.logLevel !== 'trace',
    }),
  })
  let shuttingDown = false

  // The CI dispatcher needs the sessions registry, which exists once the sessions plugin is registered;
  // the transport starts first (so that it closes last), so its handler waits for the dispatcher.
  let dispatch: CiMessageHandler | undefined
  let dispatcherReady: () => void = () => {}
  const dispatcherSet = new Promise<void>((resolve) => {
    dispatcherReady = resolve
  })
  let nodes: NodeServices | undefined
  const onCiMessage: CiMessageHandler = async (message, meta) => {
    if (!dispatch) await dispatcherSet
    await overrides.onCiMessage?.(message, meta)
    // A session this node handed over to another node: its new node answers.
    if (nodes && (await nodes.forward(message, meta))) return
    return (dispatch as CiMessageHandler)(message, meta)
  }

  let backend: Backend
  let embedded: EmbeddedBus | undefined
  if (config.amqpUrl) {
    backend = await registerAmqpBackend(app, { ...config, amqpUrl: config.amqpUrl }, onCiMessage, instance)
  } else {
    embedded = new EmbeddedBus(onCiMessage, (reason, meta) =>
      app.log.warn({ messageId: meta.messageId, reason }, 'CI message rejected'),
    )
    backend = embedded
    const bus = embedded
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
  }

  const services = startNodeServices(app, config, {
    backend: () => backend,
    instance,
    sessions: () => app.wsSessions,
  })
  nodes = services

  let connections: (() => ConnectionGuard) | undefined
  const metrics = createMetrics(
    config.nodeId,
    () => app.wsSessions,
    () => backend,
    () => connections?.(),
  )
  registerNodeMetrics(metrics.registry, services.counts)
  const deps: ApiDeps = {
    sessions: () => app.wsSessions,
    backend: () => backend,
    metrics,
    nodeId: config.nodeId,
    startedAt,
    isShuttingDown: () => shuttingDown,
    problem: () => services.problem(),
    ...(config.adminToken ? { adminToken: config.adminToken } : {}),
  }
  const docs = {
    wsPath: config.wsPath,
    addresses: embedded
      ? {
          umAddress: 'embedded:user-manager',
          nodeAddress: EMBEDDED_NODE_ADDRESS,
          broadcastAddress: EMBEDDED_BROADCAST_ADDRESS,
        }
      : {
          ...(config.umAddress ? { umAddress: config.umAddress } : {}),
          nodeAddress: backend.nodeReplyTo,
          ...(config.broadcastAddress ? { broadcastAddress: config.broadcastAddress } : {}),
        },
  }

  let api: FastifyInstance | undefined
  if (config.apiPort === undefined) {
    await registerApi(app, deps, docs)
  } else {
    api = Fastify({
      routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
      ...serverTimeouts(config),
      loggerInstance: app.log.child({ listener: 'api' }),
      logController: new LogController({ disableRequestLogging: true }),
    })
    await registerApi(api, deps, docs)
  }

  const warnings = new LogThrottle(app.log)
  const stopping = new AbortController()
  // Every connect waiting for its CLIENT_CONNECTED listens on it (and stops when done): as many at once as
  // sessions are opening, so Node's default of 10 would warn of a leak that is not one.
  setMaxListeners(0, stopping.signal)
  app.addHook('onClose', async () => warnings.flush())
  await app.register(
    fastifyWsSessions,
    sessionOptions(config, {
      warnings,
      stopping: stopping.signal,
      backend: () => backend,
      nodeId: config.nodeId,
      log: app.log,
      onClientEvent: (outcome) => metrics.clientEvent(outcome),
      ...(authenticate ? { authenticate } : {}),
      ...(services.locate ? { locate: services.locate } : {}),
    }),
  )
  dispatch = createCiDispatcher({
    sessions: app.wsSessions,
    nodeId: config.nodeId,
    startedAt,
    reply: (meta, body) => backend.reply(meta, body),
    log: app.log,
    instance,
    warnings,
    count: (type, outcome) => metrics.ciMessage(type, outcome),
  })
  dispatcherReady()

  // After the sessions plugin: its preClose (the drain, with 503s to new upgrades) runs before the
  // guard closes what has no complete request.
  const connectionGuard = guardConnections(app, {
    maxConnections: config.maxConnections,
    maxPendingPerAddress: config.maxPendingPerAddress,
    trustProxy: config.trustProxy,
    warnings,
    log: app.log,
    count: (reason) => metrics.connectionRefused(reason),
  })
  connections = () => connectionGuard
  if (api) {
    guardConnections(api, {
      maxConnections: API_MAX_CONNECTIONS,
      maxPendingPerAddress: config.maxPendingPerAddress,
      trustProxy: false,
      warnings,
      log: api.log,
      count: (reason) => metrics.connectionRefused(reason),
    })
  }
  for (const warning of config.warnings) app.log.warn(warning)

  if (config.demoPage) await registerDemoPage(app)
  if (config.socketIo) {
    if (overrides.authenticate && !overrides.verifySocketIoToken) {
      throw new Error('GATEWAY_SOCKETIO with a custom authenticate needs verifySocketIoToken as well')
    }
    await registerSocketIo(app, socketIoOptions(config, overrides.verifySocketIoToken ?? verifyToken))
    if (config.demoPage) registerSocketIoDemoPage(app, config.socketIoPath)
  }

  const urlOf = (instance: FastifyInstance, scheme: string) => {
    const address = instance.server.address()
    if (!address || typeof address === 'string') return ''
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
    return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`
  }

  let closing: Promise<void> | undefined
  const close = () => {
    closing ??= (async () => {
      shuttingDown = true
      stopping.abort()
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
    embedded,
    connections: connectionGuard,
    get backend() {
      return backend
    },
    get shuttingDown() {
      return shuttingDown
    },
    async listen() {
      await app.listen({ host: config.host, port: config.port })
      if (api) await api.listen({ host: config.apiHost, port: config.apiPort ?? 0 })
      const httpUrl = urlOf(app, 'http')
      return {
        httpUrl,
        wsUrl: `${urlOf(app, 'ws')}${config.wsPath}`,
        apiUrl: api ? urlOf(api, 'http') : httpUrl,
      }
    },
    async drainAndClose() {
      if (!closing) {
        shuttingDown = true
        await services.drain()
      }
      return close()
    },
    close,
  }
}
