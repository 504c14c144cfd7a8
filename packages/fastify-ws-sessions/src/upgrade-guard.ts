import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedOptions } from './options.js'
import type { Registry } from './registry.js'
import type { UserClaims } from './types.js'

/** Codes of the HTTP answers to a refused upgrade (also the keys of `stats.rejectedUpgrades`). */
export const RejectCode = {
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  ORIGIN_NOT_ALLOWED: 'ORIGIN_NOT_ALLOWED',
  TOO_MANY_SESSIONS: 'TOO_MANY_SESSIONS',
  UNAUTHORIZED: 'UNAUTHORIZED',
} as const
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode]

const REJECTIONS: Record<RejectCode, { status: number; message: string }> = {
  SHUTTING_DOWN: { status: 503, message: 'server is shutting down' },
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'origin not allowed' },
  TOO_MANY_SESSIONS: { status: 503, message: 'too many sessions on this node' },
  UNAUTHORIZED: { status: 401, message: 'authentication failed' },
}

function isClaims(value: unknown): value is UserClaims {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The `onRequest` hook of the WebSocket route: every check that must happen
 * before the upgrade, answered with plain HTTP and a JSON `{code, message}`.
 * Claims from `authenticate` are kept for the session in `claims`.
 */
export function createUpgradeGuard(
  options: ResolvedOptions,
  registry: Registry,
  claims: WeakMap<FastifyRequest, UserClaims>,
) {
  function reject(request: FastifyRequest, reply: FastifyReply, code: RejectCode): FastifyReply {
    const { status, message } = REJECTIONS[code]
    registry.countRejectedUpgrade(code)
    request.log.info({ code, status }, 'WebSocket upgrade refused')
    return reply.code(status).send({ code, message })
  }

  function capacityCheck(): RejectCode | undefined {
    if (registry.closing) return RejectCode.SHUTTING_DOWN
    if (registry.size >= options.maxSessions) return RejectCode.TOO_MANY_SESSIONS
    return undefined
  }

  return async function upgradeGuard(request: FastifyRequest, reply: FastifyReply) {
    if (!request.ws) return // plain HTTP: the route answers 426
    if (registry.closing) return reject(request, reply, RejectCode.SHUTTING_DOWN)
    const { allowedOrigins, authenticate } = options
    if (allowedOrigins) {
      const origin = request.headers.origin
      if (origin === undefined || !allowedOrigins.has(origin)) {
        return reject(request, reply, RejectCode.ORIGIN_NOT_ALLOWED)
      }
    }
    const full = capacityCheck()
    if (full) return reject(request, reply, full)
    if (authenticate) {
      let result: unknown
      try {
        result = await authenticate(request)
      } catch (err) {
        request.log.info({ err }, 'authenticate threw')
        result = undefined
      }
      if (!isClaims(result)) return reject(request, reply, RejectCode.UNAUTHORIZED)
      // The node may have filled up or started closing while authenticate ran.
      const late = capacityCheck()
      if (late) return reject(request, reply, late)
      claims.set(request, result)
    }
  }
}
