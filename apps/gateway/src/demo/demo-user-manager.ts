import type { CiMessage, ClientEvent, Result, UmMessage } from '@session-gateway/message-schema'
import { createDemoPresence, PRESENCE_EVENTS } from './demo-presence.js'

/** How the demo User Manager talks to the gateway nodes (AMQP or the embedded bus). */
export interface CiPort {
  /** Sends to one node: the `reply_to` of the User Manager message. */
  toNode(address: string, body: CiMessage): Promise<void>
  /** Sends to one node and waits for its RESULT. */
  requestNode(address: string, body: CiMessage): Promise<Result>
  /** Sends to every node (the broadcast address). */
  toAllNodes(body: CiMessage): Promise<void>
}

export interface DemoLogger {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/
const MAX_TEXT = 2000

/** The events the demo understands, for the page and the docs. */
export const DEMO_EVENTS = {
  echo: 'sends `data` back as the event `echo`',
  'room.join': '`{room}`: joins the room; every member gets `room.joined` `{room, sid}`',
  'room.leave': '`{room}`: leaves the room; the others get `room.left` `{room, sid}`',
  'room.send': '`{room, text}`: every member gets `room.message` `{room, from, text, ts}`',
  ...PRESENCE_EVENTS,
} as const

function roomOf(data: unknown): string | undefined {
  const room = (data as { room?: unknown } | null)?.room
  return typeof room === 'string' && ROOM_PATTERN.test(room) ? room : undefined
}

/**
 * A small User Manager for trying the gateway: echo, and a room chat.
 * Returns the handler for messages arriving at the User Manager address.
 */
export function createDemoUserManager(ci: CiPort, log: DemoLogger) {
  const emit = (replyTo: string, sid: string, event: string, data: unknown) =>
    ci.toNode(replyTo, { type: 'EMIT', v: 1, sid, event, data })
  const problem = (replyTo: string, sid: string, message: string) =>
    emit(replyTo, sid, 'demo.error', { message })
  const presence = createDemoPresence(ci)

  async function onClientEvent(msg: ClientEvent, replyTo: string): Promise<void> {
    const { sid } = msg
    switch (msg.event) {
      case 'echo':
        return emit(replyTo, sid, 'echo', msg.data ?? null)
      case 'room.join':
      case 'room.leave': {
        const room = roomOf(msg.data)
        if (!room) return problem(replyTo, sid, 'room must be 1-64 characters of [A-Za-z0-9_.:-]')
        const joining = msg.event === 'room.join'
        // Membership lives on the session's node: change it there first, then tell every node's members.
        const result = await ci.requestNode(replyTo, { type: joining ? 'JOIN' : 'LEAVE', v: 1, sid, room })
        if (!result.ok) return problem(replyTo, sid, result.error.message)
        return ci.toAllNodes({
          type: 'ROOM_EMIT',
          v: 1,
          room,
          event: joining ? 'room.joined' : 'room.left',
          data: { room, sid },
          ...(joining ? {} : { exceptSid: sid }),
        })
      }
      case 'room.send': {
        const room = roomOf(msg.data)
        const text = (msg.data as { text?: unknown } | null)?.text
        if (!room || typeof text !== 'string' || text.length === 0 || text.length > MAX_TEXT) {
          return problem(replyTo, sid, `room.send needs {room, text} with text of 1-${MAX_TEXT} characters`)
        }
        return ci.toAllNodes({
          type: 'ROOM_EMIT',
          v: 1,
          room,
          event: 'room.message',
          data: { room, from: sid, text, ts: msg.ts },
        })
      }
      default:
        if (await presence.onClientEvent(msg, replyTo, (m) => problem(replyTo, sid, m))) return
        return problem(
          replyTo,
          sid,
          `the demo does not know the event "${msg.event}" (try: ${Object.keys(DEMO_EVENTS).join(', ')})`,
        )
    }
  }

  return async function onUserManagerMessage(message: UmMessage, meta: { replyTo?: string }): Promise<void> {
    if (message.type === 'NODE_HEARTBEAT' || message.type === 'NODE_STOPPED') return
    if (!meta.replyTo) {
      log.warn({ type: message.type, sid: message.sid }, 'message without reply_to: cannot answer')
      return
    }
    if (message.type === 'CLIENT_DETACHED' || message.type === 'CLIENT_RESUMED') {
      // The session keeps its rooms while detached and after a resume: nothing to do.
      log.info(
        { sid: message.sid, node: message.node },
        message.type === 'CLIENT_DETACHED' ? 'session detached' : 'session resumed',
      )
      return
    }
    presence.heard(meta.replyTo)
    if (message.type === 'CLIENT_CONNECTED') {
      log.info({ sid: message.sid, node: message.node }, 'session connected')
      return emit(meta.replyTo, message.sid, 'demo.welcome', { events: DEMO_EVENTS })
    }
    if (message.type === 'CLIENT_DISCONNECTED') {
      log.info({ sid: message.sid, code: message.code }, 'session disconnected')
      return
    }
    return onClientEvent(message, meta.replyTo)
  }
}
