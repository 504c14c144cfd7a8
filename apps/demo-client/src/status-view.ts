import type { ClientState, SessionInfo } from '@session-gateway/client'
import { describeClose, sessionNote } from './describe.js'

const TOGGLE_LABEL: Record<ClientState['status'], string> = {
  closed: 'Connect',
  connecting: 'Disconnect',
  open: 'Disconnect',
  reconnecting: 'Stop retrying',
}

export interface StatusElements {
  status: HTMLElement
  statusText: HTMLElement
  detail: HTMLElement
  toggle: HTMLButtonElement
  retryNow: HTMLButtonElement
  drop: HTMLButtonElement
  sid: HTMLElement
}

/**
 * The connection's state in the top bar. The live region (`status`) changes only when the
 * state does; the countdown ticks in `detail`, which is not live, so it is not read out each second.
 * Once a session is there it says which: `Connected: resumed (…)` or `Connected: new session (reason)`.
 */
export class StatusView {
  #ticker: ReturnType<typeof setInterval> | undefined
  #lastSid: string | undefined
  readonly #el: StatusElements

  constructor(el: StatusElements) {
    this.#el = el
  }

  render(state: ClientState, resumable: boolean): void {
    this.#stopTicker()
    this.#el.status.dataset.state = state.status
    this.#el.retryNow.hidden = state.status !== 'reconnecting'
    this.#el.drop.hidden = state.status !== 'open'
    this.#el.toggle.textContent = TOGGLE_LABEL[state.status]
    switch (state.status) {
      case 'connecting':
        this.#setText(
          resumable ? 'Resuming…' : 'Connecting…',
          state.attempt > 1 ? `attempt ${state.attempt}` : '',
        )
        break
      case 'open':
        // The session itself is shown by showSession, which follows at once.
        break
      case 'reconnecting': {
        const closed = `Connection closed with code ${describeClose(state.lastClose.code, state.lastClose.reason)}.`
        this.#setText('Disconnected: reconnecting', '')
        const tick = () => {
          const seconds = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000))
          this.#el.detail.textContent = `${closed} Next attempt (#${state.failures + 1}) in ${seconds} s.`
        }
        tick()
        this.#ticker = setInterval(tick, 250)
        break
      }
      case 'closed':
        this.#setText(
          'Disconnected',
          state.lastClose
            ? `Closed with code ${describeClose(state.lastClose.code, state.lastClose.reason)}.`
            : '',
        )
        break
    }
    if (state.status !== 'open') this.#showAway(resumable)
  }

  /** The session this connection got: its SID, and whether it is the old one resumed or a new one. */
  showSession(info: SessionInfo): void {
    this.#lastSid = info.sid
    this.#el.status.dataset.session = info.resumed ? 'resumed' : 'new'
    this.#setText(`Connected: ${sessionNote(info)}`, '')
    this.#el.sid.textContent = info.sid
    this.#el.sid.dataset.current = 'true'
  }

  /** No connection: the last SID stays visible, waiting to be resumed or marked as gone. */
  #showAway(resumable: boolean): void {
    delete this.#el.status.dataset.session
    this.#el.sid.dataset.current = 'false'
    if (this.#lastSid === undefined) this.#el.sid.textContent = 'none yet'
    else this.#el.sid.textContent = `${this.#lastSid} ${resumable ? '(away: will be resumed)' : '(ended)'}`
  }

  #setText(text: string, detail: string): void {
    this.#el.statusText.textContent = text
    this.#el.detail.textContent = detail
  }

  #stopTicker(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker)
    this.#ticker = undefined
  }
}
