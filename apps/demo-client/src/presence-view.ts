import { shortSid } from './describe.js'
import { clockTime, element, trimChildren } from './dom.js'

export interface PresenceMember {
  sid: string
  user?: string
}

export interface RoomPresence {
  room: string
  count: number
  members: PresenceMember[]
  /** Nodes that did not answer the demo User Manager's ROOM_INFO. */
  unanswered: number
}

export interface UserMessage {
  from: string
  text: string
  ts?: number
}

/**
 * "You and your other tabs": who the page is signed in as, the messages sent to every session of
 * that user, and the presence list of each room the page is in (from ROOM_INFO, via the demo UM).
 */
export class PresenceView {
  readonly #presence = new Map<string, RoomPresence>()
  #mySid: string | undefined
  readonly #who: HTMLElement
  readonly #messages: HTMLOListElement
  readonly #rooms: HTMLElement
  readonly #max: number

  constructor(who: HTMLElement, messages: HTMLOListElement, rooms: HTMLElement, max = 100) {
    this.#who = who
    this.#messages = messages
    this.#rooms = rooms
    this.#max = max
  }

  signedInAs(sub: string | undefined): void {
    this.#who.dataset.signedIn = String(sub !== undefined)
    this.#who.textContent =
      sub === undefined
        ? 'Not signed in: open the page with ?access_token=<a JWT> to have a user (see the README).'
        : `Signed in as ${sub}. Open a second tab with the same address to see a message reach both.`
  }

  setSid(sid: string | undefined): void {
    this.#mySid = sid
    this.#render()
  }

  userMessage(message: UserMessage): void {
    const item = element('li', 'chat-line')
    item.dataset.testid = 'user-message'
    item.dataset.from = message.from
    const fromHere = message.from === this.#mySid ? 'this tab' : `tab ${shortSid(message.from)}`
    const when = message.ts === undefined ? clockTime() : clockTime(new Date(message.ts))
    item.append(
      element('div', 'chat-meta', `${when} from ${fromHere}`),
      element('div', 'chat-text', message.text),
    )
    this.#messages.append(item)
    trimChildren(this.#messages, this.#max)
  }

  show(presence: RoomPresence): void {
    this.#presence.set(presence.room, presence)
    this.#render()
  }

  forget(room: string): void {
    if (this.#presence.delete(room)) this.#render()
  }

  #render(): void {
    const blocks = [...this.#presence.values()].map((p) => {
      const block = element('div', 'presence')
      block.dataset.testid = 'presence'
      block.dataset.room = p.room
      block.dataset.count = String(p.count)
      const missing = p.unanswered > 0 ? ` (${p.unanswered} node(s) did not answer)` : ''
      block.append(element('p', 'label', `#${p.room}: ${p.count} here${missing}`))
      const list = element('ul', 'chips')
      for (const m of p.members) {
        const name = m.user ?? shortSid(m.sid)
        const chip = element('li', 'chip', m.sid === this.#mySid ? `${name} (this tab)` : name)
        chip.dataset.testid = 'presence-member'
        chip.dataset.sid = m.sid
        list.append(chip)
      }
      block.append(list)
      return block
    })
    this.#rooms.replaceChildren(...blocks)
  }
}
