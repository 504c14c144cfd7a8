import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * An onRequest hook that lets a request through only with
 * `Authorization: Bearer <token>`. Compared in constant time (both sides hashed
 * to the same length first). A token in the query string is refused, so that it
 * never lands in access logs.
 */
export function bearerAuth(token: string) {
  const expected = digest(token)
  return async function checkBearer(request: FastifyRequest, reply: FastifyReply) {
    const query = request.query as Record<string, unknown> | undefined
    if (query && ('token' in query || 'access_token' in query)) {
      return reply.code(401).send({
        code: 'UNAUTHORIZED',
        message: 'send the token in the Authorization header, not the query string',
      })
    }
    const header = request.headers.authorization
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
    if (!match?.[1]) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ code: 'UNAUTHORIZED', message: 'missing "Authorization: Bearer <GATEWAY_ADMIN_TOKEN>"' })
    }
    if (!timingSafeEqual(digest(match[1]), expected)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ code: 'UNAUTHORIZED', message: 'wrong token' })
    }
  }
}
