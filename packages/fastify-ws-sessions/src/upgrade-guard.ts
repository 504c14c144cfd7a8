import { MAX_USER_ID_LENGTH } from '@session-gateway/message-schema'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { ClientLimits } from './client-limits.js'
import { clientKeyOf, type ResolvedOptions } from './options.js'
import type { Registry } from './registry.js'
import { isThenable } from './thenable.js'
import type { UserClaims } from './types.js'

/** Codes of the HTTP answers to a refused upgrade (also the keys of `stats.rejectedUpgrades`). */
export const RejectCode = {
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  ORIGIN_NOT_ALLOWED: 'ORIGIN_NOT_ALLOWED',
  TOO_MANY_SESSIONS: 'TOO_MANY_SESSIONS',
  UNAUTHORIZED: 'UNAUTHORIZED',
  TOO_MANY_CLIENT_SESSIONS: 'TOO_MANY_CLIENT_SESSIONS',
  CONNECT_RATE_LIMITED: 'CONNECT_RATE_LIMITED',
  ADDRESS_RATE_LIMITED: 'ADDRESS_RATE_LIMITED',
} as const
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode]

export const REJECTIONS: Record<RejectCode, { status: number; message: string }> = {
  SHUTTING_DOWN: { status: 503, message: 'server is shutting down' },
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'origin not allowed' },
  TOO_MANY_SESSIONS: { status: 503, message: 'too many sessions on this node' },
  UNAUTHORIZED: { status: 401, message: 'authentication failed' },
  TOO_MANY_CLIENT_SESSIONS: { status: 429, message: 'too many sessions for this client' },
  CONNECT_RATE_LIMITED: { status: 429, message: 'too many new sessions from this client, retry later' },
  ADDRESS_RATE_LIMITED: {
    status: 429,
    message: 'too many connection attempts from this address, retry later',
  },
}

/** `Retry-After` in whole seconds (at least 1) for a refusal that will pass once a token is back. */
function retryAfter(reply: FastifyReply, ms: number): void {
  reply.header('retry-after', String(Math.max(1, Math.ceil(ms / 1000))))
}

function isClaims(value: unknown): value is UserClaims {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** What `authenticate` established for an upgrade: its claims and the session's user. */
export interface Authenticated {
  claims: UserClaims
  userId: string | undefined
}

export type UserIdOutcome = { ok: true; userId: string | undefined } | { ok: false; why: string }

/** Runs the `userId` option on the claims: a string of 1-256 characters, or undefined for none. */
export function userIdOf(options: ResolvedOptions, claims: UserClaims): UserIdOutcome {
  let userId: unknown
  try {
    userId = options.userId(claims)
  } catch (err) {
    return { ok: false, why: `userId threw: ${(err as Error)?.message ?? String(err)}` }
  }
  if (userId === undefined) return { ok: true, userId }
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
    return { ok: false, why: `the user id must be a string of 1-${MAX_USER_ID_LENGTH} characters` }
  }
  return { ok: true, userId }
}

/**
 * The `onRequest` hook of the WebSocket route: every check that must happen
 * before the upgrade, answered with plain HTTP and a JSON `{code, message}`.
 * What `authenticate` established is kept for the session in `authenticated`.
 */
export function createUpgradeGuard(
  options: ResolvedOptions,
  registry: Registry,
  authenticated: WeakMap<FastifyRequest, Authenticated>,
) {
  function reject(
    request: FastifyRequest,
    reply: FastifyReply,
    code: RejectCode,
    detail: Record<string, unknown> = {},
  ): FastifyReply {
    const { status, message } = REJECTIONS[code]
    registry.countRejectedUpgrade(code)
    request.log.info({ code, status, ...detail }, 'WebSocket upgrade refused')
    return reply.code(status).send({ code, message })
  }

  function keyOf(request: FastifyRequest, user: Authenticated | undefined): string {
    const userId = user?.userId
    if (!options.clientKey) return clientKeyOf(request, userId)
    try {
      const key = options.clientKey(request, user?.claims)
      if (typeof key === 'string' && key.length > 0) return key
      request.log.error(
        { key: typeof key },
        'clientKey did not return a non-empty string: using the default key',
      )
    } catch (err) {
      request.log.error({ err }, 'clientKey threw: using the default key')
    }
    return clientKeyOf(request, userId)
  }

  /** Per-client limits, last (the default key needs the claims); counts the session until its connection closes. */
  function clientCheck(request: FastifyRequest, reply: FastifyReply, user: Authenticated | undefined) {
    const limits = registry.clientLimits
    if (!limits.enabled) return undefined
    const connection = request.raw.socket
    if (connection.destroyed) return undefined // the client left: there will be no upgrade to count
    const key = keyOf(request, user)
    const refusal = limits.admit(key)
    if (refusal) {
      if (refusal.retryAfterMs !== undefined) retryAfter(reply, refusal.retryAfterMs)
      return reject(request, reply, refusal.refused, { clientKey: ClientLimits.storedKey(key) })
    }
    // The TCP connection's end covers every path: the session closed, or the upgrade never completed.
    connection.once('close', () => limits.release(key))
    return undefined
  }

  // Upgrade attempts per address: no claims needed, so it runs before `authenticate` (no crypto for an
  // address over its budget).
  const addressLimits = registry.addressLimits

  function addressCheck(request: FastifyRequest, reply: FastifyReply) {
    const refusal = addressLimits?.attempt(`ip:${request.ip}`)
    if (!refusal) return undefined
    retryAfter(reply, refusal.retryAfterMs)
    return reject(request, reply, RejectCode.ADDRESS_RATE_LIMITED, { address: request.ip })
  }

  function capacityCheck(): RejectCode | undefined {
    if (registry.closing) return RejectCode.SHUTTING_DOWN
    if (registry.size >= options.maxSessions) return RejectCode.TOO_MANY_SESSIONS
    return undefined
  }

  /** Last: the per-client limits. True: the upgrade goes on; false: refused (answered). */
  function admit(request: FastifyRequest, reply: FastifyReply, user: Authenticated | undefined): boolean {
    if (clientCheck(request, reply, user)) return false
    // With resume on, the `session` frame follows the `101` in the same turn: both leave in one write.
    if (options.resume) registry.writeBatch.hold(request.raw.socket)
    return true
  }

  /** The checks after `authenticate`: its claims, the user id, capacity again, the per-client limits. */
  function afterAuthenticate(request: FastifyRequest, reply: FastifyReply, result: unknown): boolean {
    if (!isClaims(result)) {
      reject(request, reply, RejectCode.UNAUTHORIZED)
      return false
    }
    const outcome = userIdOf(options, result)
    if (!outcome.ok) {
      reject(request, reply, RejectCode.UNAUTHORIZED, { why: outcome.why })
      return false
    }
    // The node may have filled up or started closing while authenticate ran.
    const late = capacityCheck()
    if (late) {
      reject(request, reply, late)
      return false
    }
    const user: Authenticated = { claims: result, userId: outcome.userId }
    authenticated.set(request, user)
    return admit(request, reply, user)
  }

  /** The checks before `authenticate`. True: go on; false: refused (answered). */
  function beforeAuthenticate(request: FastifyRequest, reply: FastifyReply): boolean {
    if (registry.closing) {
      reject(request, reply, RejectCode.SHUTTING_DOWN)
      return false
    }
    const { allowedOrigins } = options
    if (allowedOrigins) {
      const origin = request.headers.origin
      if (origin === undefined || !allowedOrigins.has(origin)) {
        reject(request, reply, RejectCode.ORIGIN_NOT_ALLOWED)
        return false
      }
    }
    const full = capacityCheck()
    if (full) {
      reject(request, reply, full)
      return false
    }
    return addressCheck(request, reply) === undefined
  }

  // A callback hook, not an async one: an upgrade without `authenticate` (or with a synchronous one)
  // goes through every check without a promise. A refusal is answered here and `done` is not called.
  return function upgradeGuard(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    if (!request.ws) {
      done() // plain HTTP: the route answers 426
      return
    }
    if (!beforeAuthenticate(request, reply)) return
    const { authenticate } = options
    if (!authenticate) {
      if (admit(request, reply, undefined)) done()
      return
    }
    let result: unknown
    try {
      result = authenticate(request)
    } catch (err) {
      request.log.info({ err }, 'authenticate threw')
      result = undefined
    }
    if (!isThenable(result)) {
      if (afterAuthenticate(request, reply, result)) done()
      return
    }
    const finish = (claims: unknown) => {
      let admitted: boolean
      try {
        admitted = afterAuthenticate(request, reply, claims)
      } catch (err) {
        done(err as Error)
        return
      }
      if (admitted) done()
    }
    result.then(finish, (err: unknown) => {
      request.log.info({ err }, 'authenticate threw')
      finish(undefined)
    })
  }
}
