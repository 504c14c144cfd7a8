import type { ClientEvent, Result } from '@session-gateway/message-schema'
import type { CiPort } from './demo-user-manager.js'

/** Node addresses the demo remembers (the reply_to of what it received), at most. */
const MAX_KNOWN_NODES = 64
const MAX_TEXT = 2000
const ROOM_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/

/** The demo's user and presence events, for the page and the docs. */
export const PRESENCE_EVENTS = {
  'user.notify':
    '`{text}`: every session of your user, on every node (your other tabs too), gets `user.message` `{from, text, ts}` (needs a signed-in session)',
  'room.who':
    '`{room}`: you get `room.presence` `{room, count, members: [{sid, user?}], unanswered}` across every node',
} as const

interface Member {
  sid: string
  user?: string
}

/**
 * The demo User Manager's users and presence (PROTOCOL.md 4.2): `user.notify` sends `EMIT_USER` to
 * every node, `room.who` asks each node it knows for `ROOM_INFO` and merges the answers.
 */
export function createDemoPresence(ci: CiPort) {
  // Insertion order = least recently heard first; a node that does not answer is forgotten.
  const nodes = new Set<string>()

  function heard(replyTo: string): void {
    nodes.delete(replyTo)
    nodes.add(replyTo)
    if (nodes.size > MAX_KNOWN_NODES) nodes.delete(nodes.values().next().value as string)
  }

  async function userOf(msg: ClientEvent, replyTo: string): Promise<string | undefined> {
    const info = await ci.requestNode(replyTo, { type: 'SESSION_INFO', v: 1, sid: msg.sid })
    const sub = info.ok ? (info.data.meta as { user?: { sub?: unknown } } | undefined)?.user?.sub : undefined
    return typeof sub === 'string' ? sub : undefined
  }

  async function roomInfo(address: string, room: string): Promise<Result | undefined> {
    try {
      return await ci.requestNode(address, { type: 'ROOM_INFO', v: 1, room, limit: 100 })
    } catch {
      nodes.delete(address)
      return undefined
    }
  }

  /** Handles one of PRESENCE_EVENTS; returns false for any other event. */
  async function onClientEvent(msg: ClientEvent, replyTo: string, problem: (m: string) => Promise<void>) {
    const emit = (event: string, data: unknown) =>
      ci.toNode(replyTo, { type: 'EMIT', v: 1, sid: msg.sid, event, data })
    const data = (msg.data ?? null) as { text?: unknown; room?: unknown } | null
    if (msg.event === 'user.notify') {
      const text = data?.text
      if (typeof text !== 'string' || text.length === 0 || text.length > MAX_TEXT) {
        await problem(`user.notify needs {text} with text of 1-${MAX_TEXT} characters`)
        return true
      }
      const user = await userOf(msg, replyTo)
      if (user === undefined) {
        await problem(
          'this session has no user: open the page with ?access_token=<a JWT> (see the demo README)',
        )
        return true
      }
      await ci.toAllNodes({
        type: 'EMIT_USER',
        v: 1,
        user,
        event: 'user.message',
        data: { from: msg.sid, text, ts: msg.ts },
      })
      return true
    }
    if (msg.event === 'room.who') {
      const room = typeof data?.room === 'string' && ROOM_PATTERN.test(data.room) ? data.room : undefined
      if (!room) {
        await problem('room must be 1-64 characters of [A-Za-z0-9_.:-]')
        return true
      }
      const answers = await Promise.all([...nodes].map((address) => roomInfo(address, room)))
      let count = 0
      const members: Member[] = []
      let unanswered = 0
      for (const answer of answers) {
        if (!answer?.ok) {
          unanswered++
          continue
        }
        count += Number(answer.data.count ?? 0)
        members.push(...((answer.data.members as Member[] | undefined) ?? []))
      }
      await emit('room.presence', { room, count, members, unanswered })
      return true
    }
    return false
  }

  return { heard, onClientEvent }
}
