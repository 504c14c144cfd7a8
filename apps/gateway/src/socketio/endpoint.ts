import { readFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import { Server as EngineServer, type Socket as EngineSocket } from 'engine.io'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { UserClaims } from 'fastify-ws-sessions'
import type { GatewayConfig } from '../config/load-config.js'
import { registerSocketIoDemoPage } from './demo-page.js'
import { SioConnection } from './sio-connection.js'

export interface SocketIoOptions {
  /** Path of the endpoint, with its trailing slash (GATEWAY_SOCKETIO_PATH, default `/socket.io/`). */
  path: string
  /** Largest packet (engine.io's maxHttpBufferSize): the sessions' SESSION_MAX_PAYLOAD. */
  maxPayload: number
  /** The sessions' heartbeat (SESSION_HEARTBEAT_MS): engine.io pings within it. 0: engine.io's defaults. */
  heartbeatIntervalMs: number
  /** A connection without a successful CONNECT within this time is closed. */
  connectTimeoutMs: number
  resume: boolean
  verifyToken: ((token: string) => Promise<UserClaims>) | undefined
}

/** The endpoint's options from the gateway's configuration. */
export function socketIoOptions(
  config: Pick<GatewayConfig, 'http' | 'sessions' | 'resume'>,
  verifyToken: SocketIoOptions['verifyToken'],
): SocketIoOptions {
  return {
    path: config.http.socketIoPath,
    maxPayload: config.sessions.maxPayload,
    heartbeatIntervalMs: config.sessions.heartbeatIntervalMs,
    // Like an upgrade request's headers: a connection has this long to say who it is.
    connectTimeoutMs: config.http.headersTimeoutMs,
    resume: config.resume.windowMs > 0,
    verifyToken,
  }
}

/**
 * GATEWAY_SOCKETIO: the endpoint and, with the demo page, its demo page. CONNECT's token is checked by
 * `verifySocketIoToken`, else the JWT check of AUTH_*; a custom `authenticate` (which reads an HTTP
 * request a CONNECT has not) needs `verifySocketIoToken` too.
 */
export async function registerSocketIoFromConfig(
  app: FastifyInstance,
  config: Pick<GatewayConfig, 'http' | 'sessions' | 'resume'>,
  auth: {
    customAuthenticate: boolean
    verifySocketIoToken: SocketIoOptions['verifyToken']
    verifyToken: SocketIoOptions['verifyToken']
  },
): Promise<void> {
  if (!config.http.socketIo) return
  if (auth.customAuthenticate && !auth.verifySocketIoToken) {
    throw new Error('GATEWAY_SOCKETIO with a custom authenticate needs verifySocketIoToken as well')
  }
  await registerSocketIo(app, socketIoOptions(config, auth.verifySocketIoToken ?? auth.verifyToken))
  if (config.http.demoPage) registerSocketIoDemoPage(app, config.http.socketIoPath)
}

/** The head bytes @fastify/websocket keeps for an upgrade (usually empty: a client waits for the 101). */
function upgradeHead(raw: IncomingMessage): Buffer {
  const key = Object.getOwnPropertySymbols(raw).find((s) => s.description === 'ws-head')
  const head = key === undefined ? undefined : (raw as unknown as Record<symbol, unknown>)[key]
  return Buffer.isBuffer(head) ? head : Buffer.alloc(0)
}

/** socket.io-client's browser bundle, served as Socket.IO's own server does (`<path>socket.io.js`). */
function clientBundle(file: string): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('socket.io-client/package.json')
    return readFileSync(pkg.replace(/package\.json$/, `dist/${file}`), 'utf8')
  } catch {
    return undefined
  }
}

/**
 * The Socket.IO endpoint (GATEWAY_SOCKETIO=true): engine.io (polling, websocket, upgrade, heartbeats)
 * behind Fastify routes, so that every request and upgrade of the listener goes through one
 * dispatcher, Fastify's router (which @fastify/websocket feeds with every upgrade): engine.io is never
 * attached to the server, so its destroyUpgrade never sees the native endpoint's upgrades. Each
 * Socket.IO connection of the main namespace is a session of fastify-ws-sessions (`attach`).
 */
export async function registerSocketIo(app: FastifyInstance, options: SocketIoOptions): Promise<void> {
  const heartbeat = options.heartbeatIntervalMs
  const engine = new EngineServer({
    transports: ['polling', 'websocket'],
    allowUpgrades: true,
    maxHttpBufferSize: options.maxPayload,
    // engine.io's pongs are the sessions' heartbeat answers: at least one within each of its intervals.
    ...(heartbeat > 0
      ? {
          pingInterval: Math.min(25_000, Math.floor(heartbeat / 2)),
          pingTimeout: Math.min(20_000, Math.floor(heartbeat / 2)),
        }
      : {}),
    cookie: false,
    perMessageDeflate: false,
  })
  const addresses = new WeakMap<IncomingMessage, string>()
  const log = app.log.child({ endpoint: 'socket.io' })
  const addressOf = (conn: EngineSocket) => addresses.get(conn.request) ?? conn.remoteAddress

  engine.on('connection', (conn: EngineSocket) => {
    new SioConnection(conn, {
      sessions: () => app.wsSessions,
      verifyToken: options.verifyToken,
      resume: options.resume,
      connectTimeoutMs: options.connectTimeoutMs,
      log,
      addressOf,
    })
  })
  engine.on('connection_error', (err: { code?: number; message?: string }) => {
    log.debug({ code: err.code, message: err.message }, 'Engine.IO request refused')
  })

  async function toEngine(request: FastifyRequest, reply: FastifyReply) {
    addresses.set(request.raw, request.ip)
    reply.hijack()
    // @fastify/websocket's mark of a request that came as an upgrade.
    if ((request as FastifyRequest & { ws?: boolean }).ws === true)
      engine.handleUpgrade(request.raw, request.raw.socket, upgradeHead(request.raw))
    else engine.handleRequest(request.raw, reply.raw)
  }
  app.route({
    method: ['GET', 'POST', 'OPTIONS'],
    url: options.path,
    schema: { hide: true },
    // Before the body is read: engine.io reads the polling POSTs itself.
    onRequest: toEngine,
    handler: async () => undefined,
  })

  for (const file of ['socket.io.js', 'socket.io.min.js']) {
    const bundle = clientBundle(file)
    if (bundle === undefined) continue
    app.get(`${options.path}${file}`, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .type('application/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=3600')
        .send(bundle),
    )
  }

  // After the sessions plugin's preClose (its sessions are closed and reported first): what is left
  // are connections that never completed a CONNECT.
  app.addHook('preClose', async () => {
    engine.close()
  })
}
