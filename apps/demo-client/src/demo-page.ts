import type { AcksView } from './acks-view.js'
import type { ChatView } from './chat-view.js'
import type { Ack, ConnectionState, GatewayConnection } from './connection.js'
import { adviceFor, describeClose, formatRtt, shortSid } from './describe.js'
import type { Incoming } from './frames.js'
import type { LogView } from './log-view.js'
import type { Notices } from './notices.js'
import type { PresenceView } from './presence-view.js'
import { readDemoEvent } from './pushed-events.js'
import type { StatusView } from './status-view.js'

export interface DemoViews {
  status: StatusView
  log: LogView
  acks: AcksView
  chat: ChatView
  presence: PresenceView
  notices: Notices
  /** Where the last echo that came back is shown. */
  echoResult: HTMLElement
  /** The event names the demo User Manager announced (for the custom-event field). */
  knownEvents: HTMLDataListElement
}

/** What the page does: reacts to the connection and the frames, and runs the person's actions. */
export class DemoPage {
  private sid: string | undefined
  private wasOpen = false
  private downAnnounced = false

  constructor(
    private readonly connection: GatewayConnection,
    private readonly views: DemoViews,
  ) {}

  // ---- the connection ----

  onState(state: ConnectionState): void {
    const { notices } = this.views
    this.views.status.render(state)
    if (state.status !== 'open') {
      this.sid = undefined
      this.views.chat.setSid(undefined)
      this.views.presence.setSid(undefined)
    }
    switch (state.status) {
      case 'open':
        this.log('page', 'info', `connected to ${this.connection.url}`)
        void this.askSid()
        return
      case 'reconnecting': {
        const closed = describeClose(state.lastClose.code, state.lastClose.reason)
        this.log(
          'page',
          'info',
          `connection closed with code ${closed}; next attempt in ${Math.ceil(state.delayMs / 1000)} s`,
        )
        if (!this.downAnnounced) {
          this.downAnnounced = true
          notices.showTopic(
            'connection',
            'error',
            this.wasOpen
              ? 'Lost the connection to the gateway.'
              : `Cannot reach the gateway at ${this.connection.url}.`,
            `Closed with code ${closed}. The page keeps retrying by itself; what you send meanwhile is not delivered.`,
          )
        }
        return
      }
      case 'closed':
        this.log('page', 'info', 'disconnected on the page')
        this.downAnnounced = false
        notices.showTopic('connection', 'info', 'Disconnected.', 'Press Connect to open a new session.')
        return
      default:
        return
    }
  }

  private async askSid(): Promise<void> {
    const ack = await this.connection.request('GET_SID')
    this.views.acks.add(ack)
    const sid = ack.ok ? (ack.data as { sid?: unknown } | undefined)?.sid : undefined
    if (typeof sid !== 'string') {
      this.views.notices.show(
        'error',
        'The gateway did not give a session id.',
        ack.ok ? 'GET_SID replied without data.sid' : ack.error.message,
      )
      return
    }
    this.setSid(sid)
    if (this.downAnnounced) {
      this.views.notices.showTopic('connection', 'success', 'Reconnected.', `New session id ${sid}.`)
    } else {
      this.views.notices.clear('connection')
    }
    this.downAnnounced = false
    this.wasOpen = true
    for (const room of this.views.chat.joinedRooms()) {
      this.log('page', 'info', `joining #${room} again after the reconnect`)
      void this.join(room)
    }
  }

  private setSid(sid: string): void {
    this.sid = sid
    this.views.chat.setSid(sid)
    this.views.presence.setSid(sid)
    this.views.status.showSid(sid)
  }

  onFrame(incoming: Incoming, text: string, ack?: Ack): void {
    switch (incoming.kind) {
      case 'invalid':
        this.log('in', 'warning', `frame breaks the wire contract: ${incoming.reason}`, text)
        this.views.notices.show('warning', 'The gateway sent a frame this page cannot read.', incoming.reason)
        return
      case 'error': {
        const { code, message } = incoming.frame.data
        this.log('in', 'error', `error ${code}: ${message}`, text)
        this.views.notices.show('error', `The gateway reported ${code}.`, `${message}. ${adviceFor(code)}`)
        return
      }
      case 'reply': {
        const about = ack ? `#${ack.id} ${ack.event}` : `#${String(incoming.frame.id)}`
        const rtt = ack ? ` in ${formatRtt(ack.rttMs)}` : ''
        if (incoming.frame.ok) this.log('in', 'reply', `reply to ${about}: ok${rtt}`, text)
        else this.log('in', 'reply-error', `reply to ${about}: ${incoming.frame.error.code}${rtt}`, text)
        return
      }
      case 'event':
        this.log('in', 'event', incoming.frame.event, text)
        this.onEvent(incoming.frame)
        return
    }
  }

  private onEvent(frame: Parameters<typeof readDemoEvent>[0]): void {
    const { chat, notices } = this.views
    const ev = readDemoEvent(frame)
    switch (ev.name) {
      case 'demo.welcome':
        this.views.knownEvents.replaceChildren(
          ...Object.entries(ev.events).map(([name, what]) => {
            const option = document.createElement('option')
            option.value = name
            option.label = what
            return option
          }),
        )
        return
      case 'echo':
        this.views.echoResult.textContent = `Came back: ${JSON.stringify(ev.data)}`
        return
      case 'room.joined':
        if (ev.sid === this.sid) {
          chat.addRoom(ev.room)
          chat.system(ev.room, 'you joined')
        } else {
          chat.system(ev.room, `${shortSid(ev.sid)} joined`)
        }
        void this.who(ev.room)
        return
      case 'room.left':
        chat.system(ev.room, `${shortSid(ev.sid)} left`)
        if (chat.has(ev.room)) void this.who(ev.room)
        return
      case 'user.message':
        this.views.presence.userMessage(ev)
        return
      case 'room.presence':
        if (chat.has(ev.room)) this.views.presence.show(ev)
        return
      case 'room.message':
        chat.message(ev)
        return
      case 'demo.error':
        notices.show('warning', 'The demo User Manager refused that.', ev.message)
        return
      case 'GET_SID':
        this.setSid(ev.sid)
        return
      case 'malformed':
        this.log('page', 'warning', `${ev.event}: data is not ${ev.expected} as the demo sends it`)
        return
      case 'other':
        return
    }
  }

  onProtocolWarning(message: string): void {
    this.log('page', 'warning', message)
  }

  onSent(event: string, id: number | string | undefined, text: string): void {
    this.log('out', 'event', id === undefined ? event : `${event} #${id}`, text)
  }

  // ---- what a person does ----

  async echo(text: string): Promise<void> {
    this.views.echoResult.textContent = ''
    await this.send('echo', { text })
  }

  async join(room: string): Promise<void> {
    await this.send('room.join', { room })
  }

  async leave(room: string): Promise<void> {
    const ack = await this.send('room.leave', { room })
    if (ack.ok) {
      this.views.presence.forget(room)
      this.views.chat.removeRoom(room)
      this.views.chat.system(room, 'you left')
    }
  }

  async say(room: string, text: string): Promise<boolean> {
    return (await this.send('room.send', { room, text })).ok
  }

  /** Asks the demo User Manager to send `text` to every session of this page's user (its other tabs too). */
  async notifyUser(text: string): Promise<boolean> {
    return (await this.send('user.notify', { text })).ok
  }

  /** Asks who is in a room, on every node (the answer comes as `room.presence`). */
  async who(room: string): Promise<void> {
    await this.send('room.who', { room })
  }

  async custom(event: string, data: unknown): Promise<void> {
    await this.send(event, data)
  }

  /** Sends `count` echoes at once and sums up their replies in one notice. */
  async burst(count: number): Promise<void> {
    const acks = await Promise.all(
      Array.from({ length: count }, (_, i) => this.connection.request('echo', { burst: i + 1 })),
    )
    const byCode = new Map<string, number>()
    for (const ack of acks) {
      this.views.acks.add(ack)
      const key = ack.ok ? 'ok' : ack.error.code
      byCode.set(key, (byCode.get(key) ?? 0) + 1)
    }
    const summary = [...byCode].map(([code, n]) => `${n} ${code}`).join(', ')
    const failed = [...byCode.keys()].filter((k) => k !== 'ok')
    if (failed.length === 0) {
      this.views.notices.show('success', `Burst of ${count} echoes: all accepted.`)
    } else {
      const advice = failed.map(adviceFor).join(' ')
      this.views.notices.show('error', `Burst of ${count} echoes: ${summary}.`, advice)
    }
  }

  /** Sends one request, shows its reply, and a notice when it failed. */
  private async send(event: string, data: unknown): Promise<Ack> {
    const ack = await this.connection.request(event, data)
    this.views.acks.add(ack)
    if (!ack.ok) {
      const { code, message } = ack.error
      const local = code === 'NOT_CONNECTED' || code === 'TIMEOUT' || code === 'CLOSED'
      const detail = local ? adviceFor(code) : `The gateway says: ${message}. ${adviceFor(code)}`
      this.views.notices.show('error', `${event} #${ack.id} failed: ${code}`, detail)
    }
    return ack
  }

  private log(
    direction: 'in' | 'out' | 'page',
    kind: Parameters<LogView['add']>[0]['kind'],
    title: string,
    body?: string,
  ): void {
    this.views.log.add(body === undefined ? { direction, kind, title } : { direction, kind, title, body })
  }
}
