import type { PresenceMember, RoomPresence, UserMessage } from './presence-view.js'

/** The events the demo User Manager pushes (apps/gateway demo-user-manager.ts), typed. */
export type DemoEvent =
  | { name: 'demo.welcome'; events: Record<string, string> }
  | { name: 'echo'; data: unknown }
  | { name: 'room.joined'; room: string; sid: string }
  | { name: 'room.left'; room: string; sid: string }
  | { name: 'room.message'; room: string; from: string; text: string; ts?: number }
  | { name: 'demo.error'; message: string }
  | ({ name: 'user.message' } & UserMessage)
  | ({ name: 'room.presence' } & RoomPresence)
  | { name: 'GET_SID'; sid: string }
  | { name: 'other'; event: string; data: unknown }
  /** A known event whose data is not what the demo sends. */
  | { name: 'malformed'; event: string; expected: string }

type Fields = Record<string, unknown>

const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v)
const strings = (v: unknown, ...keys: string[]): v is Fields =>
  isObject(v) && keys.every((k) => typeof v[k] === 'string')

/** Reads an event frame as one of the demo's events. */
export function readDemoEvent(frame: { event: string; data?: unknown }): DemoEvent {
  const { event, data } = frame
  const malformed = (expected: string): DemoEvent => ({ name: 'malformed', event, expected })
  switch (event) {
    case 'demo.welcome': {
      const events = isObject(data) && isObject(data.events) ? data.events : {}
      const described = Object.fromEntries(Object.entries(events).map(([k, v]) => [k, String(v)]))
      return { name: 'demo.welcome', events: described }
    }
    case 'echo':
      return { name: 'echo', data }
    case 'room.joined':
    case 'room.left':
      return strings(data, 'room', 'sid')
        ? { name: event, room: String(data.room), sid: String(data.sid) }
        : malformed('{room, sid}')
    case 'room.message':
      if (!strings(data, 'room', 'from', 'text')) return malformed('{room, from, text, ts}')
      return {
        name: 'room.message',
        room: String(data.room),
        from: String(data.from),
        text: String(data.text),
        ...(typeof data.ts === 'number' ? { ts: data.ts } : {}),
      }
    case 'user.message':
      if (!strings(data, 'from', 'text')) return malformed('{from, text, ts}')
      return {
        name: 'user.message',
        from: String(data.from),
        text: String(data.text),
        ...(typeof data.ts === 'number' ? { ts: data.ts } : {}),
      }
    case 'room.presence': {
      const members = isObject(data) && Array.isArray(data.members) ? data.members : undefined
      if (
        !strings(data, 'room') ||
        typeof data.count !== 'number' ||
        !members?.every((m) => strings(m, 'sid'))
      ) {
        return malformed('{room, count, members: [{sid, user?}], unanswered}')
      }
      return {
        name: 'room.presence',
        room: String(data.room),
        count: data.count,
        members: (members as Fields[]).map(
          (m): PresenceMember =>
            typeof m.user === 'string' ? { sid: String(m.sid), user: m.user } : { sid: String(m.sid) },
        ),
        unanswered: typeof data.unanswered === 'number' ? data.unanswered : 0,
      }
    }
    case 'demo.error':
      return strings(data, 'message')
        ? { name: 'demo.error', message: String(data.message) }
        : malformed('{message}')
    case 'GET_SID':
      return strings(data, 'sid') ? { name: 'GET_SID', sid: String(data.sid) } : malformed('{sid}')
    default:
      return { name: 'other', event, data }
  }
}
