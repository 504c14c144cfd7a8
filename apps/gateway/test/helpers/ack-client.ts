import WebSocket from 'ws'
import { Waiters } from './waiters.js'

export interface RequestRecord {
  id: number
  sentAt: number
  repliedAt?: number
  /** 'ok', or the error code of the reply. */
  outcome?: string
  /** How many replies carried this id (must end at exactly 1). */
  replies: number
}

/**
 * A client that sends acknowledged events (`{event, data, id}`) and keeps, per id, when it was sent
 * and every reply it got. Used for steady traffic through faults and for round-trip latency.
 */
export class AckClient {
  readonly requests = new Map<number, RequestRecord>()
  /** Replies whose id was never sent (must stay 0). */
  strayReplies = 0
  /** Frames that were not replies (events, error frames). */
  readonly otherFrames: unknown[] = []
  /** How the connection closed, or `undefined` while it is open. */
  closeInfo: { code: number; reason: string } | undefined
  sid = ''
  #nextId = 1
  #timer: NodeJS.Timeout | undefined
  readonly #waiters = new Waiters()

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as { id?: number; ok?: boolean; error?: { code: string } }
      if (typeof frame.id === 'number' && frame.ok !== undefined) {
        const record = this.requests.get(frame.id)
        if (!record) this.strayReplies++
        else {
          record.replies++
          if (record.replies === 1) {
            record.repliedAt = performance.now()
            record.outcome = frame.ok ? 'ok' : (frame.error?.code ?? 'unknown')
          }
        }
      } else if (this.otherFrames.length < 1000) this.otherFrames.push(frame)
      this.#wake()
    })
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() }
      this.stop()
      this.#wake()
    })
    ws.on('error', () => {})
  }

  /** Opens the connection; sends nothing. */
  static async connect(url: string): Promise<AckClient> {
    const ws = new WebSocket(url)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return new AckClient(ws)
  }

  /** Opens the connection and learns the SID (request id 1). */
  static async open(url: string, timeoutMs = 5000): Promise<AckClient> {
    const client = await AckClient.connect(url)
    const first = client.send('GET_SID')
    await client.waitFor(() => first.outcome !== undefined, timeoutMs, 'GET_SID reply')
    return client
  }

  #wake(): void {
    this.#waiters.wake()
  }

  waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.#waiters.until(check, timeoutMs, what, () =>
      this.closeInfo ? `connection closed (${this.closeInfo.code})` : undefined,
    )
  }

  /** Sends one event with a fresh id; GET_SID records the sid. */
  send(event: string, data?: unknown): RequestRecord {
    const id = this.#nextId++
    const record: RequestRecord = { id, sentAt: performance.now(), replies: 0 }
    this.requests.set(id, record)
    this.ws.send(JSON.stringify(data === undefined ? { event, id } : { event, data, id }))
    if (event === 'GET_SID') {
      const capture = (raw: WebSocket.RawData) => {
        const frame = JSON.parse(raw.toString()) as { id?: number; data?: { sid?: string } }
        if (frame.id === id) {
          this.sid = frame.data?.sid ?? ''
          this.ws.off('message', capture)
        }
      }
      this.ws.on('message', capture)
    }
    return record
  }

  /** One round trip: sends and waits for the reply; resolves with the latency in ms. */
  async roundTrip(
    event: string,
    data?: unknown,
    timeoutMs = 10_000,
  ): Promise<{ ms: number; outcome: string }> {
    const record = this.send(event, data)
    await this.waitFor(() => record.outcome !== undefined, timeoutMs, `reply to ${event} #${record.id}`)
    return { ms: (record.repliedAt as number) - record.sentAt, outcome: record.outcome as string }
  }

  /** Sends `event` every `1000 / perSecond` ms until stopped (or closed). */
  startSteady(event: string, perSecond: number): void {
    this.stop()
    this.#timer = setInterval(() => {
      if (this.ws.readyState === WebSocket.OPEN) this.send(event, { t: Date.now() })
    }, 1000 / perSecond)
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** Ids sent after GET_SID (the event traffic). */
  eventRecords(): RequestRecord[] {
    return [...this.requests.values()].filter((r) => r.id !== 1)
  }

  close(): void {
    this.stop()
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(1000)
    }
  }
}
