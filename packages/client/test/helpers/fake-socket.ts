import type {
  CloseEventLike,
  MessageEventLike,
  WebSocketConstructor,
  WebSocketLike,
} from '../../src/index.js'

/** A WebSocket the test opens, feeds and closes by hand (the "server" side is the test). */
export class FakeSocket implements WebSocketLike {
  readyState = 0
  onopen: ((event: unknown) => void) | null = null
  onmessage: ((event: MessageEventLike) => void) | null = null
  onclose: ((event: CloseEventLike) => void) | null = null
  onerror: ((event: unknown) => void) | null = null
  readonly sent: Array<Record<string, unknown>> = []
  /** What the client closed with, if it did. */
  closedWith: { code: number | undefined; reason: string | undefined } | undefined

  constructor(readonly url: string) {}

  get query(): URLSearchParams {
    return new URL(this.url).searchParams
  }

  /** The upgrade succeeded. */
  accept(): void {
    this.readyState = 1
    this.onopen?.({})
  }

  /** A frame from the "gateway". */
  push(frame: unknown): void {
    this.onmessage?.({ data: typeof frame === 'string' ? frame : JSON.stringify(frame) })
  }

  /** The "gateway" (or the network) ends the connection with `code`. */
  end(code: number, reason = ''): void {
    this.readyState = 3
    this.onclose?.({ code, reason })
  }

  /** The `GET_SID` request the client sends on open, answered with `sid`. */
  answerSid(sid: string): void {
    const ask = this.sent.find((f) => f.event === 'GET_SID')
    if (!ask) throw new Error('the client did not ask GET_SID')
    this.push({ id: ask.id, ok: true, data: { sid } })
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open')
    this.sent.push(JSON.parse(data) as Record<string, unknown>)
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason }
    if (this.readyState === 3) return
    this.readyState = 2
    // As a real server does: the close frame is echoed with the same code.
    queueMicrotask(() => this.end(code ?? 1005, reason ?? ''))
  }
}

/** A WebSocket class for one test, and every socket it made. */
export function fakeWebSocket(): { WebSocket: WebSocketConstructor; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = []
  class Socket extends FakeSocket {
    constructor(url: string) {
      super(url)
      sockets.push(this)
    }
  }
  return { WebSocket: Socket, sockets }
}
