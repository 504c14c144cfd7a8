/** What the connection needs of a WebSocket: lets tests drive it with a fake. */
export interface SocketHandlers {
  open(): void
  message(data: unknown): void
  close(code: number, reason: string, wasClean: boolean): void
}

export interface SocketHandle {
  send(text: string): void
  close(code?: number, reason?: string): void
}

export type SocketFactory = (url: string, handlers: SocketHandlers) => SocketHandle

/** The browser's WebSocket behind a `SocketHandle`. */
export const browserSocket: SocketFactory = (url, handlers) => {
  const ws = new WebSocket(url)
  ws.binaryType = 'arraybuffer'
  ws.addEventListener('open', () => handlers.open())
  ws.addEventListener('message', (ev: MessageEvent) => handlers.message(ev.data))
  ws.addEventListener('close', (ev: CloseEvent) => handlers.close(ev.code, ev.reason, ev.wasClean))
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
  }
}
