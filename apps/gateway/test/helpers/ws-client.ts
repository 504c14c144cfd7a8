import WebSocket from 'ws'

export interface Frame {
  event?: string
  id?: string | number
  ok?: boolean
  data?: unknown
  error?: { code: string; message: string }
  /** With resume on: the position of an event frame in its session. */
  seq?: number
}

/** A raw `ws` client that records every frame and lets a test wait for the ones it expects. */
export class TestClient {
  readonly frames: Frame[] = []
  closed: { code: number; reason: string } | undefined
  private waiters: Array<() => void> = []
  private nextId = 1

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (!isBinary) this.frames.push(JSON.parse(data.toString()) as Frame)
      this.wake()
    })
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() }
      this.wake()
    })
    ws.on('error', () => this.wake())
  }

  static open(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options)
      const client = new TestClient(ws)
      ws.once('open', () => resolve(client))
      ws.once('unexpected-response', (_req, res) =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
      )
      ws.once('error', reject)
    })
  }

  private wake() {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  /** Resolves with the first recorded frame matching `predicate` (removing it), or rejects after `timeoutMs`. */
  waitFor(predicate: (f: Frame) => boolean, timeoutMs = 5000, what = 'frame'): Promise<Frame> {
    const deadline = Date.now() + timeoutMs
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.frames.findIndex(predicate)
        if (index >= 0) {
          clearTimeout(timer)
          resolve(this.frames.splice(index, 1)[0] as Frame)
          return
        }
        if (this.closed) {
          clearTimeout(timer)
          reject(new Error(`connection closed (${this.closed.code}) while waiting for ${what}`))
          return
        }
        if (Date.now() < deadline) this.waiters.push(check)
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check)
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames).slice(0, 500)}`))
      }, timeoutMs)
      check()
    })
  }

  event(name: string, timeoutMs?: number): Promise<Frame> {
    return this.waitFor((f) => f.event === name && f.id === undefined, timeoutMs, `event ${name}`)
  }

  reply(id: string | number, timeoutMs?: number): Promise<Frame> {
    return this.waitFor((f) => f.id === id && f.ok !== undefined, timeoutMs, `reply ${id}`)
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Sends an event with a fresh id and waits for its reply. */
  async request(event: string, data?: unknown, timeoutMs?: number): Promise<Frame> {
    const id = this.nextId++
    this.send(data === undefined ? { event, id } : { event, data, id })
    return this.reply(id, timeoutMs)
  }

  async sid(): Promise<string> {
    const r = await this.request('GET_SID')
    return (r.data as { sid: string }).sid
  }

  waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.closed) {
          clearTimeout(timer)
          resolve(this.closed)
        } else this.waiters.push(check)
      }
      const timer = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs)
      check()
    })
  }

  close(): Promise<{ code: number; reason: string }> {
    if (!this.closed) this.ws.close(1000)
    return this.waitClosed()
  }
}
