import type { ClientState, RequestOutcome, ServerEvent, SessionInfo } from '@session-gateway/client'
import type { AcksView } from './acks-view.js'
import type { ChatView } from './chat-view.js'
import { adviceFor, describeClose, sessionNote, shortSid } from './describe.js'
import { classifyFrame } from './frames.js'
import type { LogView } from './log-view.js'
import type { Notices } from './notices.js'
import type { PageConnection, SendResult } from './page-connection.js'
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
  #sid: string | undefined
  #wasOpen = false
  #downAnnounced = false
  readonly #connection: PageConnection
  readonly #views: DemoViews

  constructor(connection: PageConnection, views: DemoViews) {
    this.#connection = connection
    this.#views = views
  }

  // ---- the connection ----

  onState(state: ClientState): void {
    const { notices } = this.#views
    this.#views.status.render(state, this.#connection.resumable)
    switch (state.status) {
      case 'reconnecting': {
        const closed = describeClose(state.lastClose.code, state.lastClose.reason)
        const next = `next attempt in ${Math.ceil(state.delayMs / 1000)} s`
        const resuming = this.#connection.resumable ? '; the page will resume its session' : ''
        this.#log('page', 'info', `connection closed with code ${closed}; ${next}${resuming}`)
        if (!this.#downAnnounced) {
          this.#downAnnounced = true
          notices.showTopic(
            'connection',
            'error',
            this.#wasOpen
              ? 'Lost the connection to the gateway.'
              : `Cannot reach the gateway at ${this.#connection.url}.`,
            this.#connection.resumable
              ? `Closed with code ${closed}. The page keeps retrying by itself and resumes its session: what the gateway sends meanwhile is kept for it. What you send meanwhile is not delivered.`
              : `Closed with code ${closed}. The page keeps retrying by itself; what you send meanwhile is not delivered.`,
          )
        }
        return
      }
      case 'closed':
        this.#downAnnounced = false
        if (state.by === 'server' && state.lastClose) {
          const closed = describeClose(state.lastClose.code, state.lastClose.reason)
          this.#log('page', 'info', `the gateway ended the session with code ${closed}`)
          notices.showTopic(
            'connection',
            'error',
            'The gateway ended the session.',
            `Closed with code ${closed}; the page does not reconnect after it. Press Connect to open a new session.`,
          )
        } else {
          this.#log('page', 'info', 'disconnected on the page')
          notices.showTopic('connection', 'info', 'Disconnected.', 'Press Connect to open a new session.')
        }
        return
      default:
        return
    }
  }

  /** A connection got a session: the first one, the old one resumed, or a new one after a drop. */
  onSession(info: SessionInfo): void {
    const { notices } = this.#views
    // After Disconnect / Connect the page's client is a new one: its first session replaces the last.
    const previous = info.previousSid ?? this.#sid
    this.#setSid(info.sid)
    this.#views.status.showSession(info)
    this.#log('page', 'info', `connected to ${this.#connection.url}: ${sessionNote(info)}`)
    if (info.resumed) {
      const missed = info.replayed === 1 ? '1 missed event' : `${info.replayed} missed events`
      notices.showTopic(
        'connection',
        'success',
        'Resumed.',
        `Same session id ${info.sid}; ${missed} replayed.`,
      )
    } else if (previous !== undefined) {
      const rooms = this.#views.chat.joinedRooms()
      notices.showTopic(
        'connection',
        'success',
        'Reconnected.',
        `New session id ${info.sid}${info.reason ? ` (${info.reason})` : ''}${rooms.length > 0 ? ': joining your rooms again' : ''}.`,
      )
      for (const room of rooms) {
        this.#log('page', 'info', `joining #${room} again with the new session`)
        void this.join(room)
      }
    } else if (this.#downAnnounced) {
      notices.showTopic('connection', 'success', 'Connected.', `Session id ${info.sid}.`)
    } else {
      notices.clear('connection')
    }
    this.#downAnnounced = false
    this.#wasOpen = true
  }

  #setSid(sid: string): void {
    this.#sid = sid
    this.#views.chat.setSid(sid)
    this.#views.presence.setSid(sid)
  }

  /** Every frame received, for the log (events reach the page through `onEvent`, once). */
  onFrame(text: string, duplicate: boolean): void {
    const incoming = classifyFrame(text)
    switch (incoming.kind) {
      case 'invalid':
        this.#log('in', 'warning', `frame breaks the wire contract: ${incoming.reason}`, text)
        this.#views.notices.show(
          'warning',
          'The gateway sent a frame this page cannot read.',
          incoming.reason,
        )
        return
      case 'error': {
        const { code, message } = incoming.frame.data
        this.#log('in', 'error', `error ${code}: ${message}`, text)
        this.#views.notices.show('error', `The gateway reported ${code}.`, `${message}. ${adviceFor(code)}`)
        return
      }
      case 'reply': {
        const about = `#${String(incoming.frame.id)}`
        if (incoming.frame.ok) this.#log('in', 'reply', `reply to ${about}: ok`, text)
        else this.#log('in', 'reply-error', `reply to ${about}: ${incoming.frame.error.code}`, text)
        return
      }
      case 'event': {
        const { event } = incoming.frame
        const seq =
          'seq' in incoming.frame && incoming.frame.seq !== undefined ? ` (seq ${incoming.frame.seq})` : ''
        const title = duplicate ? `${event}${seq}: already received, not shown again` : `${event}${seq}`
        this.#log('in', 'event', title, event === 'session' ? hideResumeToken(text) : text)
        return
      }
    }
  }

  onSettled(outcome: RequestOutcome): void {
    this.#views.acks.add(outcome)
  }

  onEvent(frame: ServerEvent): void {
    const { chat, notices } = this.#views
    const ev = readDemoEvent(frame)
    switch (ev.name) {
      case 'demo.welcome':
        this.#views.knownEvents.replaceChildren(
          ...Object.entries(ev.events).map(([name, what]) => {
            const option = document.createElement('option')
            option.value = name
            option.label = what
            return option
          }),
        )
        return
      case 'echo':
        this.#views.echoResult.textContent = `Came back: ${JSON.stringify(ev.data)}`
        return
      case 'room.joined':
        if (ev.sid === this.#sid) {
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
        this.#views.presence.userMessage(ev)
        return
      case 'room.presence':
        if (chat.has(ev.room)) this.#views.presence.show(ev)
        return
      case 'room.message':
        chat.message(ev)
        return
      case 'demo.error':
        notices.show('warning', 'The demo User Manager refused that.', ev.message)
        return
      case 'GET_SID':
        this.#setSid(ev.sid)
        return
      case 'malformed':
        this.#log('page', 'warning', `${ev.event}: data is not ${ev.expected} as the demo sends it`)
        return
      case 'other':
        return
    }
  }

  onProtocolWarning(message: string): void {
    this.#log('page', 'warning', message)
  }

  onSent(text: string): void {
    const frame = JSON.parse(text) as { event: string; id?: number | string }
    this.#log('out', 'event', frame.id === undefined ? frame.event : `${frame.event} #${frame.id}`, text)
  }

  /** Simulates a network drop (see PageConnection.drop). */
  drop(): void {
    if (this.#connection.drop())
      this.#log('page', 'info', 'dropping the connection (close 4000: the gateway detaches the session)')
  }

  // ---- what a person does ----

  async echo(text: string): Promise<void> {
    this.#views.echoResult.textContent = ''
    await this.#send('echo', { text })
  }

  async join(room: string): Promise<void> {
    await this.#send('room.join', { room })
  }

  async leave(room: string): Promise<void> {
    const result = await this.#send('room.leave', { room })
    if (result.ok) {
      this.#views.presence.forget(room)
      this.#views.chat.removeRoom(room)
      this.#views.chat.system(room, 'you left')
    }
  }

  async say(room: string, text: string): Promise<boolean> {
    return (await this.#send('room.send', { room, text })).ok
  }

  /** Asks the demo User Manager to send `text` to every session of this page's user (its other tabs too). */
  async notifyUser(text: string): Promise<boolean> {
    return (await this.#send('user.notify', { text })).ok
  }

  /** Asks who is in a room, on every node (the answer comes as `room.presence`). */
  async who(room: string): Promise<void> {
    await this.#send('room.who', { room })
  }

  async custom(event: string, data: unknown): Promise<void> {
    await this.#send(event, data)
  }

  /** Sends `count` echoes at once and sums up their replies in one notice. */
  async burst(count: number): Promise<void> {
    const results = await Promise.all(
      Array.from({ length: count }, (_, i) => this.#connection.request('echo', { burst: i + 1 })),
    )
    const byCode = new Map<string, number>()
    for (const result of results) {
      const key = result.ok ? 'ok' : result.error.code
      byCode.set(key, (byCode.get(key) ?? 0) + 1)
    }
    const summary = [...byCode].map(([code, n]) => `${n} ${code}`).join(', ')
    const failed = [...byCode.keys()].filter((k) => k !== 'ok')
    if (failed.length === 0) {
      this.#views.notices.show('success', `Burst of ${count} echoes: all accepted.`)
    } else {
      const advice = failed.map(adviceFor).join(' ')
      this.#views.notices.show('error', `Burst of ${count} echoes: ${summary}.`, advice)
    }
  }

  /** Sends one request, shows its reply, and a notice when it failed. */
  async #send(event: string, data: unknown): Promise<SendResult> {
    const result = await this.#connection.request(event, data)
    if (!result.ok) {
      const { code, message, requestId } = result.error
      const local = code === 'NOT_CONNECTED' || code === 'TIMEOUT' || code === 'CLOSED'
      const detail = local ? adviceFor(code) : `The gateway says: ${message}. ${adviceFor(code)}`
      const which = requestId === undefined ? event : `${event} #${requestId}`
      this.#views.notices.show('error', `${which} failed: ${code}`, detail)
    }
    return result
  }

  #log(
    direction: 'in' | 'out' | 'page',
    kind: Parameters<LogView['add']>[0]['kind'],
    title: string,
    body?: string,
  ): void {
    this.#views.log.add(body === undefined ? { direction, kind, title } : { direction, kind, title, body })
  }
}

/** The session frame for the log, its resume token (a bearer credential) cut short. */
function hideResumeToken(text: string): string {
  return text.replace(/("resumeToken":")([^"]{6})[^"]*"/, '$1$2… (hidden)"')
}
