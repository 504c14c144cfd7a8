import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import {
  APP_CLOSE_CODE_MAX,
  APP_CLOSE_CODE_MIN,
  BackendEventName,
  CloseCode,
  DEFAULT_MAX_DEPTH,
  JsonValue,
  jsonValueProblem,
  SID_PATTERN,
} from '@session-gateway/message-schema'
import type { Session } from 'fastify-ws-sessions'
import { Type } from 'typebox'
import { deliveredData } from '../ci-dispatcher.js'
import { sessionMeta } from '../sessions-wiring.js'
import { bearerAuth } from './admin-auth.js'
import type { ApiDeps } from './deps.js'

export const ApiError = Type.Object({ code: Type.String(), message: Type.String() })
const SidParams = Type.Object({ sid: Type.String({ pattern: SID_PATTERN }) })
export const SessionView = Type.Object({
  sid: Type.String(),
  node: Type.String(),
  connectedAt: Type.Integer(),
  rooms: Type.Array(Type.String()),
  meta: Type.Object(
    {
      remoteAddress: Type.String(),
      userAgent: Type.Optional(Type.String()),
      origin: Type.Optional(Type.String()),
      user: Type.Optional(Type.Record(Type.String(), JsonValue)),
    },
    { additionalProperties: false },
  ),
  /** Resume on: the session waits for its client. */
  detached: Type.Optional(Type.Boolean()),
})
const SessionPage = Type.Object({
  total: Type.Integer(),
  offset: Type.Integer(),
  items: Type.Array(SessionView),
  nextOffset: Type.Union([Type.Integer(), Type.Null()]),
})
const Paging = Type.Object(
  {
    offset: Type.Integer({ minimum: 0, default: 0 }),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
)
export const Outgoing = Type.Object(
  { event: BackendEventName, data: Type.Optional(JsonValue) },
  { additionalProperties: false },
)
export const Delivered = Type.Object({ delivered: Type.Integer(), kept: Type.Optional(Type.Integer()) })
export const CloseQuery = Type.Object(
  {
    code: Type.Integer({
      default: CloseCode.NORMAL,
      anyOf: [{ const: CloseCode.NORMAL }, { minimum: APP_CLOSE_CODE_MIN, maximum: APP_CLOSE_CODE_MAX }],
    }),
    reason: Type.String({ maxLength: 123, default: 'closed by admin' }),
  },
  { additionalProperties: false },
)

export const security = [{ bearer: [] }]
const notFound = (sid: string) => ({ code: 'SESSION_NOT_FOUND', message: `no session ${sid} on this node` })
export const invalid = (message: string) => ({ code: 'INVALID', message })

// The schema validator coerces "Infinity" and "1e400" to Infinity, which is an integer to it and
// skips its minimum/maximum: the handlers check the numbers themselves.
export const isWhole = (n: number, min: number, max: number) =>
  Number.isSafeInteger(n) && n >= min && n <= max
export const isAdminCloseCode = (code: number) =>
  code === CloseCode.NORMAL || isWhole(code, APP_CLOSE_CODE_MIN, APP_CLOSE_CODE_MAX)
/** What the WebSocket and AMQP sides refuse (data nested too deep), the admin API refuses too. */
export const dataProblem = (data: unknown) => {
  if (data === undefined) return undefined // optional: the event frame carries no data
  const problem = jsonValueProblem(data, DEFAULT_MAX_DEPTH)
  return problem === undefined ? undefined : invalid(`data ${problem}`)
}

/** A session as the admin API shows it. */
export const sessionView = (s: Session, nodeId: string) => ({
  sid: s.sid,
  node: nodeId,
  connectedAt: s.connectedAt,
  rooms: [...s.rooms],
  meta: sessionMeta(s),
  ...(s.detached ? { detached: true } : {}),
})

/**
 * The /v1 admin API: list, inspect, close and message sessions of this node,
 * broadcast to its sessions. Every route needs the admin bearer token.
 */
export const adminRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps; token: string }> = async (
  app,
  { deps, token },
) => {
  app.addHook('onRequest', bearerAuth(token))

  const view = (sid: string) => {
    const s = deps.sessions.get(sid)
    return s ? sessionView(s, deps.nodeId) : undefined
  }

  app.get(
    '/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: "This node's sessions, oldest first, paged",
        security,
        querystring: Paging,
        response: { 200: SessionPage, 400: ApiError, 401: ApiError },
      },
    },
    async (request, reply) => {
      const { offset, limit } = request.query
      if (!isWhole(offset, 0, Number.MAX_SAFE_INTEGER) || !isWhole(limit, 1, 1000)) {
        return reply.code(400).send(invalid('offset must be a whole number >= 0, limit one from 1 to 1000'))
      }
      const registry = deps.sessions
      const items = []
      let i = 0
      for (const s of registry.values()) {
        if (i++ < offset) continue
        if (items.length === limit) break
        const v = view(s.sid)
        if (v) items.push(v)
      }
      const total = registry.size
      return {
        total,
        offset,
        items,
        nextOffset: offset + items.length < total ? offset + items.length : null,
      }
    },
  )

  app.get(
    '/v1/sessions/:sid',
    {
      schema: {
        tags: ['sessions'],
        summary: 'One session',
        security,
        params: SidParams,
        response: { 200: SessionView, 401: ApiError, 404: ApiError },
      },
    },
    async (request, reply) => {
      const { sid } = request.params
      return view(sid) ?? reply.code(404).send(notFound(sid))
    },
  )

  app.delete(
    '/v1/sessions/:sid',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Close a session (code 1000 or 4000-4999)',
        security,
        params: SidParams,
        querystring: CloseQuery,
        response: { 204: Type.Null(), 400: ApiError, 401: ApiError, 404: ApiError },
      },
    },
    async (request, reply) => {
      const { sid } = request.params
      const { code, reason } = request.query
      if (!isAdminCloseCode(code)) return reply.code(400).send(invalid('code must be 1000 or 4000-4999'))
      if (!deps.sessions.close(sid, code, reason)) return reply.code(404).send(notFound(sid))
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/v1/sessions/:sid/messages',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Send an event frame to a session',
        security,
        params: SidParams,
        body: Outgoing,
        response: { 200: Delivered, 400: ApiError, 401: ApiError, 404: ApiError },
      },
    },
    async (request, reply) => {
      const { sid } = request.params
      const { event, data } = request.body
      const problem = dataProblem(data)
      if (problem) return reply.code(400).send(problem)
      const sessions = deps.sessions
      if (!sessions.has(sid)) return reply.code(404).send(notFound(sid))
      // As EMIT answers: delivered 0 for a closing session, kept 1 for a detached one.
      return deliveredData(sessions.deliver(sid, event, data))
    },
  )

  app.post(
    '/v1/broadcast',
    {
      schema: {
        tags: ['sessions'],
        summary:
          'Send an event frame to every session of this node (for every node, send BROADCAST to the broadcast address)',
        security,
        body: Outgoing,
        response: { 200: Delivered, 400: ApiError, 401: ApiError },
      },
    },
    async (request, reply) => {
      const { event, data } = request.body
      const problem = dataProblem(data)
      if (problem) return reply.code(400).send(problem)
      return { delivered: deps.sessions.broadcast(event, data) }
    },
  )
}
