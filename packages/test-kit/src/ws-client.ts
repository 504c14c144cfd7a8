import WebSocket, { type ClientOptions } from 'ws'
import { within } from './within.js'

/** A frame the client received: parsed JSON, or `{ binary }` for a binary message. */
export interface Frame {
  event?: string
  id?: unknown
  ok?: boolean
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field by the tests
  data?: any
  // biome-ignore lint/suspicious/noExplicitAny: parsed JSON, asserted field by field by the tests
  error?: any
  /** With resume on: the position of an event frame in its session. */
  seq?: number
  /** Set instead of the fields above when the message was binary. */
  binary?: Buffer
}

/** How the connection closed. */
export interface CloseInfo {
  code: number
  reason: string
}

/**
 * A raw `ws` client for tests. It keeps every frame received, in order, until a test takes it:
 * `next()` takes the oldest, `waitFor()` / `event()` / `reply()` the first that matches.
 */
export class TestClient {
  readonly ws: WebSocket
  /** Resolves when the connection has closed (never rejects). */
  readonly closed: Promise<CloseInfo>
  readonly #frames: Frame[] = []
  #closeInfo: CloseInfo | undefined
  #waiters: Array<() => void> = []
  #nextId = 1

  private constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('message', (data, isBinary) => {
      this.#frames.push(isBinary ? { binary: data as Buffer } : (JSON.parse(String(data)) as Frame))
      this.#wake()
    })
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.#closeInfo = { code, reason: reason.toString() }
        resolve(this.#closeInfo)
        this.#wake()
      })
    })
    ws.on('error', () => this.#wake())
  }

  /** Opens a connection; rejects with `HTTP <status>` (and `status`) when the upgrade is refused. */
  static open(url: string, options: ClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, options)
    const client = new TestClient(ws)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client))
      ws.once('unexpected-response', (_req, res) =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
      )
      ws.once('error', reject)
    })
  }

  /** How the connection closed, or `undefined` while it is open. */
  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo
  }

  /** The frames received and not yet taken, oldest first. */
  get frames(): readonly Frame[] {
    return this.#frames
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }

  /** Takes the first frame (received or still to come) matching `predicate`; rejects after `timeoutMs` or on close. */
  waitFor(predicate: (f: Frame) => boolean, timeoutMs = 5000, what = 'frame'): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.#frames.findIndex(predicate)
        if (index >= 0) {
          clearTimeout(timer)
          resolve(this.#frames.splice(index, 1)[0] as Frame)
          return
        }
        if (this.#closeInfo) {
          clearTimeout(timer)
          reject(new Error(`connection closed (${this.#closeInfo.code}) while waiting for ${what}`))
          return
        }
        this.#waiters.push(check)
      }
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== check)
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.#frames).slice(0, 500)}`))
      }, timeoutMs)
      check()
    })
  }

  /** Takes the oldest frame (received or still to come). */
  next(timeoutMs = 3000): Promise<Frame> {
    return this.waitFor(() => true, timeoutMs, 'a frame')
  }

  /** Takes the first event frame (no `id`) named `name`. */
  event(name: string, timeoutMs?: number): Promise<Frame> {
    return this.waitFor((f) => f.event === name && f.id === undefined, timeoutMs, `event ${name}`)
  }

  /** Takes the reply (a frame with `ok`) to the request `id`. */
  reply(id: string | number, timeoutMs?: number): Promise<Frame> {
    return this.waitFor((f) => f.id === id && f.ok !== undefined, timeoutMs, `reply ${id}`)
  }

  /** Sends a string as given, anything else as JSON (a binary message goes through `ws.send`). */
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Sends `frame` exactly as given and takes the next frame received, whatever it is. */
  async exchange(frame: unknown, timeoutMs?: number): Promise<Frame> {
    this.send(frame)
    return this.next(timeoutMs)
  }

  /** Sends the event with a fresh numeric id and takes its reply. */
  async request(event: string, data?: unknown, timeoutMs?: number): Promise<Frame> {
    const id = this.#nextId++
    this.send(data === undefined ? { event, id } : { event, data, id })
    return this.reply(id, timeoutMs)
  }

  /** The session id, asked with GET_SID. */
  async sid(): Promise<string> {
    const r = await this.request('GET_SID')
    return (r.data as { sid: string }).sid
  }

  /** Resolves when the connection has closed; rejects after `timeoutMs`. */
  waitClosed(timeoutMs = 5000): Promise<CloseInfo> {
    return within(this.closed, timeoutMs, 'the connection to close')
  }

  /** Closes from the client side (no-op when already closed) and waits for the close. */
  close(code = 1000, timeoutMs = 5000): Promise<CloseInfo> {
    if (!this.#closeInfo) this.ws.close(code)
    return this.waitClosed(timeoutMs)
  }
}
