import {
  CiErrorCode,
  type CiMessage,
  type CiMessageType,
  CloseCode,
  resultError,
  resultOk,
  SID_TARGETED_TYPES,
} from '@session-gateway/message-schema'
import type { FastifyBaseLogger } from 'fastify'
import { type Delivery, SessionError, type SessionRegistry } from 'fastify-ws-sessions'
import type { CiMeta } from './backend/types.js'
import type { LogThrottle } from './log-throttle.js'
import { createPresenceHandlers } from './presence-handlers.js'
import { sessionMeta } from './sessions-wiring.js'

/** A failure that becomes a RESULT error with this code. */
class CiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

type Handlers = {
  [K in CiMessageType]: (message: Extract<CiMessage, { type: K }>) => Record<string, unknown>
}

export interface CiDispatcherDeps {
  sessions: SessionRegistry
  nodeId: string
  startedAt: number
  reply: (meta: CiMeta, body: ReturnType<typeof resultOk> | ReturnType<typeof resultError>) => Promise<void>
  log: FastifyBaseLogger
  /** This process, in PING answers (tells apart two processes that share one node id). */
  instance?: string
  /** `RESULT not sent` can come once per CI message while the broker is away. */
  warnings: LogThrottle
  /** Counts handled messages by type and outcome (for metrics). */
  count?: (type: string, outcome: string) => void
}

/**
 * The CI dispatcher: one handler per CI type,
 * a RESULT whenever the message has a reply_to. Resolves once the effect is
 * done (frames handed to the sockets), so the bridge can settle `accepted`.
 */
export function createCiDispatcher(deps: CiDispatcherDeps) {
  const { sessions, nodeId } = deps

  function session(sid: string) {
    const found = sessions.get(sid)
    if (!found) throw new CiError(CiErrorCode.SESSION_NOT_FOUND, `no session ${sid} on node ${nodeId}`)
    return found
  }

  function roomChange(change: () => void) {
    try {
      change()
    } catch (err) {
      if (err instanceof SessionError) throw new CiError(err.code, err.message)
      throw err
    }
    return {}
  }

  const handlers: Handlers = {
    // delivered 0: the session exists but is closing (e.g. past its send-buffer bound); kept 1: it is
    // detached (resume on) and the frame waits for its client.
    EMIT: (m) => deliveredData(session(m.sid).deliver(m.event, m.data)),
    ROOM_EMIT: (m) => ({ delivered: sessions.emitToRoom(m.room, m.event, m.data, m.exceptSid) }),
    BROADCAST: (m) => ({ delivered: sessions.broadcast(m.event, m.data) }),
    JOIN: (m) => {
      session(m.sid)
      return roomChange(() => sessions.join(m.sid, m.room))
    },
    LEAVE: (m) => {
      session(m.sid)
      return roomChange(() => sessions.leave(m.sid, m.room))
    },
    DISCONNECT: (m) => {
      session(m.sid).close(m.code ?? CloseCode.NORMAL, m.reason ?? '')
      return {}
    },
    SESSION_INFO: (m) => {
      const s = session(m.sid)
      return {
        sid: s.sid,
        node: nodeId,
        connectedAt: s.connectedAt,
        rooms: [...s.rooms],
        meta: sessionMeta(s),
        ...(s.detached ? { detached: true } : {}),
      }
    },
    PING: () => ({
      node: nodeId,
      sessions: sessions.size,
      uptimeMs: Date.now() - deps.startedAt,
      ...(deps.instance ? { instance: deps.instance } : {}),
    }),
    ...createPresenceHandlers(sessions, nodeId),
  }

  // Not async: a message without reply_to is done when this returns; one with it, once its RESULT went.
  return function dispatch(message: CiMessage, meta: CiMeta): Promise<void> | undefined {
    // On the broadcast address only the node holding the SID answers a SID-targeted message.
    if (meta.source === 'broadcast' && SID_TARGETED_TYPES.has(message.type) && 'sid' in message) {
      if (!sessions.has(message.sid)) {
        deps.count?.(message.type, 'not_here')
        return undefined
      }
    }
    let result: ReturnType<typeof resultOk> | ReturnType<typeof resultError>
    try {
      const handler = handlers[message.type] as (m: CiMessage) => Record<string, unknown>
      result = resultOk(handler(message))
      deps.count?.(message.type, 'ok')
    } catch (err) {
      if (err instanceof CiError) {
        result = resultError(err.code, err.message)
        deps.count?.(message.type, err.code)
      } else {
        deps.log.error({ err, type: message.type, messageId: meta.messageId }, 'CI message handler failed')
        result = resultError(CiErrorCode.INTERNAL, 'the node failed to handle the message')
        deps.count?.(message.type, CiErrorCode.INTERNAL)
      }
    }
    if (!meta.replyTo) return undefined
    // The effect is done; a RESULT that cannot be sent must not undo or repeat it.
    return deps.reply(meta, result).catch((err: unknown) => {
      const details = { err, type: message.type, messageId: meta.messageId, replyTo: meta.replyTo }
      deps.warnings.warn(deps.log, details, 'RESULT not sent')
    })
  }
}

/** `RESULT.data` of a delivery to one session: `{delivered: 1}`, `{delivered: 0, kept: 1}` or `{delivered: 0}`. */
export function deliveredData(delivery: Delivery): { delivered: number; kept?: number } {
  if (delivery === 'delivered') return { delivered: 1 }
  return delivery === 'kept' ? { delivered: 0, kept: 1 } : { delivered: 0 }
}
