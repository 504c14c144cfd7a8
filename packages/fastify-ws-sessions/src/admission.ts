import { ClientLimits } from './client-limits.js'
import type { Registry } from './registry.js'
import type { TransportConnection } from './transport.js'
import { REJECTIONS, RejectCode, userIdOf } from './upgrade-guard.js'

/** A transport connection let in (with its user), or refused with an upgrade's code and message. */
export type Admission =
  | { ok: true; userId: string | undefined }
  | { ok: false; code: RejectCode; message: string; retryAfterMs?: number }

function refuse(code: RejectCode, retryAfterMs?: number): Admission {
  return {
    ok: false,
    code,
    message: REJECTIONS[code].message,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  }
}

/**
 * The upgrade guard's checks for a connection attached through `attach` (its caller verified the
 * credentials): shutdown, origin, capacity, the address's attempt rate, the user id of the claims, and
 * the per-client limits (key `user:<id>`, else `ip:<address>`; the `clientKey` option, which reads a
 * Fastify request, does not apply). The client's session is counted until the transport closes.
 */
export function admission(registry: Registry, connection: TransportConnection): Admission {
  const { options } = registry
  if (registry.closing) return refuse(RejectCode.SHUTTING_DOWN)
  const { allowedOrigins } = options
  if (allowedOrigins && (connection.origin === undefined || !allowedOrigins.has(connection.origin))) {
    return refuse(RejectCode.ORIGIN_NOT_ALLOWED)
  }
  if (registry.size >= options.maxSessions) return refuse(RejectCode.TOO_MANY_SESSIONS)
  const overBudget = registry.addressLimits?.attempt(`ip:${connection.remoteAddress}`)
  if (overBudget) return refuse(RejectCode.ADDRESS_RATE_LIMITED, overBudget.retryAfterMs)
  let userId: string | undefined
  if (connection.claims !== undefined) {
    const outcome = userIdOf(options, connection.claims)
    if (!outcome.ok) {
      connection.log.info({ why: outcome.why }, 'transport connection refused: bad user id')
      return refuse(RejectCode.UNAUTHORIZED)
    }
    userId = outcome.userId
  }
  const limits = registry.clientLimits
  if (limits.enabled) {
    const key = userId !== undefined ? `user:${userId}` : `ip:${connection.remoteAddress}`
    const refusal = limits.admit(key)
    if (refusal) {
      connection.log.info({ clientKey: ClientLimits.storedKey(key) }, 'transport connection refused')
      return refuse(refusal.refused, refusal.retryAfterMs)
    }
    connection.transport.once('close', () => limits.release(key))
  }
  return { ok: true, userId }
}
