import WebSocket from 'ws'

/** Close codes after which a client does not come back (PROTOCOL.md 4.1: final closes). */
const FINAL = (code: number) => code === 1000 || code === 1008 || (code >= 4000 && code <= 4999)

export interface ReceivedEvent {
  event: string
  data: unknown
  seq: number
}

/**
 * A small client that behaves like a real one across a rolling deploy: it keeps its session's token
 * and the highest seq it received, and when its connection closes (1012, 1006, …) it reconnects to
 * `next()` (another node) with `?resume=<token>&last_seq=<n>`. It records every event frame and
 * counts what a test must rule out: a seq seen twice (duplicate), a seq skipped (gap), a resume that
 * gave a new session (reset).
 */
export class ResumingClient {
  sid: string | undefined
  token: string | undefined
  lastSeq = 0
  readonly events: ReceivedEvent[] = []
  duplicates = 0
  gaps = 0
  resets: string[] = []
  resumes = 0
  connects = 0
  closedFinally: number | undefined
  #ws: WebSocket | undefined
  #stopped = false
  #onSession: Array<() => void> = []
  readonly #next: () => string

  constructor(next: () => string) {
    this.#next = next
  }

  /**
   * Opens the first connection; resolves once a `session` frame came (a failed attempt is retried
   * like a reconnect, so that 1000 clients opened at once do not fail on a full accept queue).
   */
  start(): Promise<void> {
    const gotSession = new Promise<void>((resolve) => this.#onSession.push(resolve))
    this.#connect()
    return gotSession
  }

  get connected(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN && this.sid !== undefined
  }

  /**
   * One attempt. Its `close` event (which `ws` emits after every error, a refused upgrade included)
   * is the one place that schedules the next attempt: a second reconnect started from the error
   * would race the first with the same single-use token, and the loser would get a new session.
   */
  #connect(): void {
    const base = this.#next()
    const url =
      this.token === undefined
        ? base
        : `${base}?resume=${encodeURIComponent(this.token)}&last_seq=${this.lastSeq}`
    this.connects++
    const ws = new WebSocket(url)
    this.#ws = ws
    let established = false
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Record<string, unknown>
      if (frame.event === 'session') established = true
      this.#onFrame(frame)
    })
    ws.on('error', () => {})
    ws.on('close', (code) => {
      if (ws !== this.#ws) return
      if (this.#stopped || (established && FINAL(code))) {
        this.closedFinally = code
        return
      }
      if (established) this.#connect()
      else {
        // Refused or failed before its session frame (503 while draining, a full accept queue): later.
        const timer = setTimeout(() => this.#stopped || this.#connect(), 20 + Math.floor(Math.random() * 30))
        timer.unref()
      }
    })
  }

  #onFrame(frame: Record<string, unknown>): void {
    if (frame.event === 'session') {
      const data = frame.data as { sid: string; resumeToken: string; resumed: boolean; reason?: string }
      if (this.sid !== undefined) {
        if (data.resumed && data.sid === this.sid) this.resumes++
        else {
          this.resets.push(data.reason ?? 'none')
          this.lastSeq = 0
        }
      }
      this.sid = data.sid
      this.token = data.resumeToken
      for (const wake of this.#onSession.splice(0)) wake()
      return
    }
    if (typeof frame.seq !== 'number' || typeof frame.event !== 'string') return
    if (frame.seq <= this.lastSeq) {
      this.duplicates++
      return
    }
    if (frame.seq !== this.lastSeq + 1) this.gaps++
    this.lastSeq = frame.seq
    this.events.push({ event: frame.event, data: frame.data, seq: frame.seq })
  }

  /** Closes with 1000 (the session ends) and stops reconnecting. */
  close(): void {
    this.#stopped = true
    this.#ws?.close(1000)
  }

  /** Drops the connection without a close frame and stops (the test is over). */
  terminate(): void {
    this.#stopped = true
    this.#ws?.terminate()
  }
}
