import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client'

/** A real socket.io-client v4 socket to a gateway (no automatic reconnection unless asked). */
export function sioConnect(
  httpUrl: string,
  options: Partial<ManagerOptions & SocketOptions> = {},
  namespace = '/',
): Socket {
  return io(`${httpUrl}${namespace === '/' ? '' : namespace}`, {
    path: '/socket.io/',
    forceNew: true,
    reconnection: false,
    transports: ['websocket'],
    ...options,
  })
}

/** Resolves once connected; rejects with the connect_error. */
export function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve()
    socket.once('connect', () => {
      socket.off('connect_error', reject)
      resolve()
    })
    socket.once('connect_error', reject)
  })
}

/** The next `event` the socket receives, with all its arguments. */
export function nextEvent(socket: Socket, event: string, timeoutMs = 5000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out waiting for Socket.IO event ${event}`)),
      timeoutMs,
    )
    socket.once(event, (...args: unknown[]) => {
      clearTimeout(timer)
      resolve(args)
    })
  })
}

/** Collects every event (name and arguments) the socket receives, in order. */
export function recordEvents(socket: Socket): Array<[string, ...unknown[]]> {
  const seen: Array<[string, ...unknown[]]> = []
  socket.onAny((event: string, ...args: unknown[]) => seen.push([event, ...args]))
  return seen
}
