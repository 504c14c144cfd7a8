import { shortSid } from './describe.js'
import { clockTime, element, trimChildren } from './dom.js'

export interface ChatLine {
  room: string
  from: string
  text: string
  /** Milliseconds since the epoch, when the sender's node stamped it. */
  ts?: number
}

/** The room chat: the rooms this session is in, their messages, and the room picker of the send form. */
export class ChatView {
  readonly #rooms = new Set<string>()
  #mySid: string | undefined
  readonly #log: HTMLOListElement
  readonly #chips: HTMLUListElement
  readonly #emptyHint: HTMLElement
  readonly #picker: HTMLSelectElement
  readonly #onLeave: (room: string) => void
  readonly #max: number

  constructor(
    log: HTMLOListElement,
    chips: HTMLUListElement,
    emptyHint: HTMLElement,
    picker: HTMLSelectElement,
    onLeave: (room: string) => void,
    max = 200,
  ) {
    this.#log = log
    this.#chips = chips
    this.#emptyHint = emptyHint
    this.#picker = picker
    this.#onLeave = onLeave
    this.#max = max
    this.#render()
  }

  setSid(sid: string | undefined): void {
    this.#mySid = sid
  }

  joinedRooms(): string[] {
    return [...this.#rooms]
  }

  has(room: string): boolean {
    return this.#rooms.has(room)
  }

  addRoom(room: string): void {
    if (this.#rooms.has(room)) return
    this.#rooms.add(room)
    this.#render()
    this.#picker.value = room
  }

  removeRoom(room: string): void {
    if (this.#rooms.delete(room)) this.#render()
  }

  message(line: ChatLine): void {
    const mine = line.from === this.#mySid
    const item = element('li', mine ? 'chat-line mine' : 'chat-line')
    item.dataset.testid = 'chat-message'
    item.dataset.room = line.room
    item.dataset.from = line.from
    const meta = element('div', 'chat-meta')
    const when = line.ts === undefined ? clockTime() : clockTime(new Date(line.ts))
    meta.append(
      element('span', 'chat-room', `#${line.room}`),
      element('span', 'chat-from', mine ? 'you' : shortSid(line.from)),
      element('time', 'chat-time', when.slice(0, 8)),
    )
    item.append(meta, element('p', 'chat-text', line.text))
    this.#append(item)
  }

  /** A line about the room itself (someone joined or left). */
  system(room: string, text: string): void {
    const item = element('li', 'chat-line system', `#${room}: ${text}`)
    item.dataset.testid = 'chat-system'
    item.dataset.room = room
    this.#append(item)
  }

  #append(item: HTMLLIElement): void {
    this.#log.append(item)
    trimChildren(this.#log, this.#max)
    this.#log.scrollTop = this.#log.scrollHeight
  }

  #render(): void {
    const chips = [...this.#rooms].map((room) => {
      const chip = element('li', 'chip')
      chip.dataset.testid = 'room-chip'
      chip.dataset.room = room
      const leave = element('button', 'chip-leave', '×')
      leave.type = 'button'
      leave.setAttribute('aria-label', `Leave room ${room}`)
      leave.addEventListener('click', () => this.#onLeave(room))
      chip.append(element('span', 'chip-name', `#${room}`), leave)
      return chip
    })
    this.#chips.replaceChildren(...chips)
    this.#emptyHint.hidden = this.#rooms.size > 0

    const selected = this.#picker.value
    const options = [...this.#rooms].map((room) => {
      const option = element('option', undefined, `#${room}`)
      option.value = room
      return option
    })
    if (options.length === 0) {
      const none = element('option', undefined, '(no room yet)')
      none.value = ''
      options.push(none)
    }
    this.#picker.replaceChildren(...options)
    if (this.#rooms.has(selected)) this.#picker.value = selected
  }
}
