import type { ConnectionState } from './connection.js'
import { describeClose } from './describe.js'

const TOGGLE_LABEL: Record<ConnectionState['status'], string> = {
  idle: 'Connect',
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
  sid: HTMLElement
}

/**
 * The connection's state in the top bar. The live region (`status`) changes only when the
 * state does; the countdown ticks in `detail`, which is not live, so it is not read out each second.
 */
export class StatusView {
  private ticker: ReturnType<typeof setInterval> | undefined
  private lastSid: string | undefined

  constructor(private readonly el: StatusElements) {}

  render(state: ConnectionState): void {
    this.stopTicker()
    this.el.status.dataset.state = state.status
    this.el.retryNow.hidden = state.status !== 'reconnecting'
    this.el.toggle.textContent = TOGGLE_LABEL[state.status]
    switch (state.status) {
      case 'idle':
        this.setText('Not connected', '')
        break
      case 'connecting':
        this.setText('Connecting…', state.attempt > 1 ? `attempt ${state.attempt}` : '')
        break
      case 'open':
        this.setText('Connected', 'asking for the session id…')
        break
      case 'reconnecting': {
        const closed = `Connection closed with code ${describeClose(state.lastClose.code, state.lastClose.reason)}.`
        this.setText('Disconnected: reconnecting', '')
        const tick = () => {
          const seconds = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000))
          this.el.detail.textContent = `${closed} Next attempt (#${state.attempt + 1}) in ${seconds} s.`
        }
        tick()
        this.ticker = setInterval(tick, 250)
        break
      }
      case 'closed':
        this.setText(
          'Disconnected',
          state.lastClose
            ? `Closed with code ${describeClose(state.lastClose.code, state.lastClose.reason)}.`
            : '',
        )
        break
    }
    if (state.status !== 'open') this.showSid(undefined)
  }

  /** The SID of the open session, or none (the last one stays visible, marked as gone). */
  showSid(sid: string | undefined): void {
    if (sid !== undefined) {
      this.lastSid = sid
      this.el.sid.textContent = sid
      this.el.sid.dataset.current = 'true'
      this.el.detail.textContent = ''
      return
    }
    this.el.sid.dataset.current = 'false'
    this.el.sid.textContent = this.lastSid === undefined ? 'none yet' : `${this.lastSid} (ended)`
  }

  private setText(text: string, detail: string): void {
    this.el.statusText.textContent = text
    this.el.detail.textContent = detail
  }

  private stopTicker(): void {
    if (this.ticker !== undefined) clearInterval(this.ticker)
    this.ticker = undefined
  }
}
