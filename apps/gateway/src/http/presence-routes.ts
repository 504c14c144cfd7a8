import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { MAX_ROOM_NAME_LENGTH, MAX_USER_ID_LENGTH } from '@session-gateway/message-schema'
import { Type } from 'typebox'
import { MAX_USER_INFO_SESSIONS } from '../presence-handlers.js'
import { bearerAuth } from './admin-auth.js'
import {
  ApiError,
  CloseQuery,
  Delivered,
  dataProblem,
  invalid,
  isAdminCloseCode,
  isWhole,
  Outgoing,
  SessionView,
  security,
  sessionView,
} from './admin-routes.js'
import type { ApiDeps } from './deps.js'

const UserParams = Type.Object({ user: Type.String({ minLength: 1, maxLength: MAX_USER_ID_LENGTH }) })
const RoomParams = Type.Object({ room: Type.String({ minLength: 1, maxLength: MAX_ROOM_NAME_LENGTH }) })
const UserSessions = Type.Object({
  user: Type.String(),
  node: Type.String(),
  count: Type.Integer({ description: "the user's sessions on this node, exact" }),
  sessions: Type.Array(SessionView, { description: `at most ${MAX_USER_INFO_SESSIONS}, oldest first` }),
})
const Closed = Type.Object({ closed: Type.Integer() })
const RoomPaging = Type.Object(
  {
    offset: Type.Integer({ minimum: 0, default: 0 }),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
)
const RoomPage = Type.Object({
  room: Type.String(),
  node: Type.String(),
  count: Type.Integer({ description: 'members on this node, exact' }),
  offset: Type.Integer(),
  members: Type.Array(Type.Object({ sid: Type.String(), user: Type.Optional(Type.String()) })),
  nextOffset: Type.Union([Type.Integer(), Type.Null()]),
})

/**
 * The /v1 admin API for users and rooms (PROTOCOL.md 4.2, for this node: for every node, send
 * USER_INFO, EMIT_USER, DISCONNECT_USER or ROOM_INFO to the broadcast address). Needs the admin token.
 */
export const presenceRoutes: FastifyPluginAsyncTypebox<{ deps: ApiDeps; token: string }> = async (
  app,
  { deps, token },
) => {
  app.addHook('onRequest', bearerAuth(token))

  app.get(
    '/v1/users/:user/sessions',
    {
      schema: {
        tags: ['users'],
        summary: "A user's sessions on this node (the user is the verified JWT sub)",
        security,
        params: UserParams,
        response: { 200: UserSessions, 400: ApiError, 401: ApiError },
      },
    },
    async (request) => {
      const { user } = request.params
      const all = deps.sessions.userSessions(user)
      return {
        user,
        node: deps.nodeId,
        count: all.length,
        sessions: all.slice(0, MAX_USER_INFO_SESSIONS).map((s) => sessionView(s, deps.nodeId)),
      }
    },
  )

  app.post(
    '/v1/users/:user/messages',
    {
      schema: {
        tags: ['users'],
        summary:
          'Send an event frame to every session of a user on this node ({delivered: 0} when it has none)',
        security,
        params: UserParams,
        body: Outgoing,
        response: { 200: Delivered, 400: ApiError, 401: ApiError },
      },
    },
    async (request, reply) => {
      const { user } = request.params
      const { event, data } = request.body
      const problem = dataProblem(data)
      if (problem) return reply.code(400).send(problem)
      return { delivered: deps.sessions.emitToUser(user, event, data) }
    },
  )

  app.delete(
    '/v1/users/:user/sessions',
    {
      schema: {
        tags: ['users'],
        summary: 'Close every session of a user on this node (code 1000 or 4000-4999)',
        security,
        params: UserParams,
        querystring: CloseQuery,
        response: { 200: Closed, 400: ApiError, 401: ApiError },
      },
    },
    async (request, reply) => {
      const { user } = request.params
      const { code, reason } = request.query
      if (!isAdminCloseCode(code)) return reply.code(400).send(invalid('code must be 1000 or 4000-4999'))
      return { closed: deps.sessions.disconnectUser(user, code, reason) }
    },
  )

  app.get(
    '/v1/rooms/:room',
    {
      schema: {
        tags: ['rooms'],
        summary: "A room's members on this node, in join order, paged; count is exact",
        security,
        params: RoomParams,
        querystring: RoomPaging,
        response: { 200: RoomPage, 400: ApiError, 401: ApiError },
      },
    },
    async (request, reply) => {
      const { room } = request.params
      const { offset, limit } = request.query
      if (!isWhole(offset, 0, Number.MAX_SAFE_INTEGER) || !isWhole(limit, 1, 1000)) {
        return reply.code(400).send(invalid('offset must be a whole number >= 0, limit one from 1 to 1000'))
      }
      const { count, members } = deps.sessions.roomMembers(room, { offset, limit })
      const end = offset + members.length
      return {
        room,
        node: deps.nodeId,
        count,
        offset,
        members: members.map((s) =>
          s.userId === undefined ? { sid: s.sid } : { sid: s.sid, user: s.userId },
        ),
        nextOffset: end < count ? end : null,
      }
    },
  )
}
