/**
 * The part of a WebSocket this client uses: the browser's `WebSocket`, Node 22's global one and the
 * `ws` package's class all fit. Handlers are declared as methods so that each implementation's own
 * event types are accepted.
 */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number
  onopen: Handler<unknown> | null
  onmessage: Handler<MessageEventLike> | null
  onclose: Handler<CloseEventLike> | null
  onerror: Handler<unknown> | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

/** A WebSocket class: `new WebSocket(url)`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

export interface MessageEventLike {
  /** A string for a text frame. */
  readonly data: unknown
}

export interface CloseEventLike {
  readonly code: number
  readonly reason: string
}

/** A listener whose event parameter is checked bivariantly (as a method's is). */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack']

export const OPEN = 1

/** `globalThis.WebSocket`, when this runtime has one (browsers, Node >= 22). */
export function globalWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
}
