import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import fastifyWebsocket from '@fastify/websocket'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { WebSocket } from 'ws'
import { resolveOptions } from './options.js'
import { Registry } from './registry.js'
import { releaseUpgrade } from './release-upgrade.js'
import { resumeAttemptOf } from './resume/resume-checks.js'
import type { SessionRegistry, WsSessionsOptions } from './types.js'
import { type Authenticated, createUpgradeGuard, RejectCode } from './upgrade-guard.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The WebSocket sessions of this node (fastify-ws-sessions). */
    wsSessions: SessionRegistry
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

async function wsSessionsPlugin(fastify: FastifyInstance, opts: WsSessionsOptions): Promise<void> {
  const options = resolveOptions(opts)
  if (fastify.hasDecorator('websocketServer')) {
    throw new Error(
      'fastify-ws-sessions: @fastify/websocket is already registered; fastify-ws-sessions registers it itself (with maxPayload), so do not register it separately',
    )
  }
  const registry = new Registry(options)
  const log = fastify.log.child({ plugin: 'fastify-ws-sessions' })
  const authenticated = new WeakMap<FastifyRequest, Authenticated>()

  fastify.decorate('wsSessions', registry)

  // While closing, Fastify answers every request 503 itself, before any hook:
  // an upgrade socket answered that way is never released, and would keep
  // fastify.close() waiting. End it once the answer is written.
  const endUpgradeWhileClosing = (_request: IncomingMessage, socket: Duplex) => {
    if (!socket.destroyed) socket.end()
  }

  // Added before @fastify/websocket registers its own preClose (which closes
  // every client without a code), so sessions see 1001 and their hooks first.
  fastify.addHook('preClose', async () => {
    fastify.server.on('upgrade', endUpgradeWhileClosing)
    await registry.shutdown()
  })
  fastify.addHook('onClose', async () => {
    fastify.server.removeListener('upgrade', endUpgradeWhileClosing)
    registry.dispose()
  })

  // closeTimeout: ws's own bound on a close handshake the client never finishes (30 s by default);
  // ws 8.20+ reads it, @types/ws does not list it yet (hence not an object literal below).
  const serverOptions = { maxPayload: options.maxPayload, closeTimeout: options.closeTimeoutMs }
  await fastify.register(fastifyWebsocket, {
    options: serverOptions,
    // Sessions listen for their own socket errors; `ws` closes the socket after one.
    errorHandler(error, socket) {
      log.debug({ err: error }, 'WebSocket error')
      if (socket.readyState === socket.CONNECTING) socket.terminate()
    },
  })

  fastify.route({
    method: 'GET',
    url: options.path,
    onRequest: createUpgradeGuard(options, registry, authenticated),
    handler(_request: FastifyRequest, reply: FastifyReply) {
      return reply.code(426).header('upgrade', 'websocket').send({
        code: 'UPGRADE_REQUIRED',
        message: 'this endpoint speaks WebSocket only',
      })
    },
    wsHandler(socket: WebSocket, request: FastifyRequest) {
      // Re-checked here: sessions may have opened, or shutdown started, since the guard ran.
      if (registry.closing) {
        registry.countRejectedUpgrade(RejectCode.SHUTTING_DOWN)
        socket.close(1001, 'server shutting down')
        return
      }
      if (registry.size >= options.maxSessions) {
        registry.countRejectedUpgrade(RejectCode.TOO_MANY_SESSIONS)
        socket.close(1013, 'too many sessions')
        return
      }
      // Listeners @fastify/websocket added; released once the session has its own (release-upgrade.ts).
      const inherited = socket.listeners('error') as Array<(...args: unknown[]) => void>
      const user = authenticated.get(request)
      try {
        const connection = {
          socket,
          transport: request.raw.socket,
          log: request.log,
          remoteAddress: request.ip,
          userAgent: header(request.headers['user-agent']),
          origin: header(request.headers.origin),
          user: user?.claims,
          userId: user?.userId,
        }
        const attempt = options.resume ? resumeAttemptOf(request.query) : undefined
        if (attempt) {
          registry.resume(connection, attempt, request).catch((err: unknown) => {
            request.log.error({ err }, 'could not resume a WebSocket session')
            socket.close(1011, 'internal error')
          })
        } else {
          registry.open(connection)
        }
        releaseUpgrade(socket, request, inherited)
      } catch (err) {
        request.log.error({ err }, 'could not open a WebSocket session')
        socket.close(1011, 'internal error')
      }
    },
  })
}

/** The plugin: turns a route (default `/ws`) into WebSocket sessions. */
export const fastifyWsSessions = fp(wsSessionsPlugin, {
  name: 'fastify-ws-sessions',
  fastify: '5.x',
})
