import type { DisconnectUser, EmitUser, RoomInfo, UserInfo } from '@session-gateway/message-schema'
import { CloseCode, DEFAULT_ROOM_INFO_LIMIT } from '@session-gateway/message-schema'
import type { SessionRegistry } from 'fastify-ws-sessions'

/**
 * Most sessions a `USER_INFO` answer lists (its `count` stays exact): a user without a per-client
 * limit could hold thousands, and one RESULT must stay a message a broker takes.
 */
export const MAX_USER_INFO_SESSIONS = 1000

/**
 * PROTOCOL.md 4.2 on one node: every handler answers for this node's sessions only, so on the
 * broadcast address each node answers for its own (one RESULT per node).
 */
export function createPresenceHandlers(sessions: SessionRegistry, nodeId: string) {
  return {
    EMIT_USER: (m: EmitUser) => ({ delivered: sessions.emitToUser(m.user, m.event, m.data) }),
    DISCONNECT_USER: (m: DisconnectUser) => ({
      closed: sessions.disconnectUser(m.user, m.code ?? CloseCode.NORMAL, m.reason ?? ''),
    }),
    USER_INFO: (m: UserInfo) => {
      const all = sessions.userSessions(m.user)
      return {
        node: nodeId,
        count: all.length,
        sessions: all.slice(0, MAX_USER_INFO_SESSIONS).map((s) => ({
          sid: s.sid,
          connectedAt: s.connectedAt,
          rooms: [...s.rooms],
        })),
      }
    },
    ROOM_INFO: (m: RoomInfo) => {
      const { count, members } = sessions.roomMembers(m.room, { limit: m.limit ?? DEFAULT_ROOM_INFO_LIMIT })
      return {
        node: nodeId,
        count,
        members: members.map((s) =>
          s.userId === undefined ? { sid: s.sid } : { sid: s.sid, user: s.userId },
        ),
      }
    },
  }
}
