import type { WebSocket, WebSocketServer } from 'ws'

/** How long one slice of the interval is: the gateway's own (fastify-ws-sessions `SLICE_MS`). */
const SLICE_MS = 100

/**
 * The liveness any server of the protocol pays for, done by hand for a bare baseline: every
 * connection of `server` is pinged once per `intervalMs` and terminated at its next visit when that
 * ping got no pong. Spread over the interval as the gateway does it (a connection joins one of
 * `intervalMs / 100` slices, a timer visits the next slice every 100 ms), so both sides wake as often
 * and write one ping per connection per interval. Written again on purpose rather than taken from
 * fastify-ws-sessions' `Heartbeat`: a bare baseline runs nothing of ours.
 */
export function pingEvery(server: WebSocketServer, intervalMs: number): () => void {
  const slices = Array.from(
    { length: Math.max(1, Math.floor(intervalMs / SLICE_MS)) },
    () => new Set<WebSocket>(),
  )
  const waiting = new WeakSet<WebSocket>()
  let nextJoin = 0
  let ticks = 0
  const startedAt = performance.now()
  let timer: ReturnType<typeof setTimeout> | undefined
  server.on('connection', (socket) => {
    const slice = slices[nextJoin] as Set<WebSocket>
    nextJoin = (nextJoin + 1) % slices.length
    slice.add(socket)
    socket.on('pong', () => waiting.delete(socket))
    socket.once('close', () => slice.delete(socket))
  })
  const tick = () => {
    const slice = slices[ticks % slices.length] as Set<WebSocket>
    ticks++
    schedule()
    for (const socket of slice) {
      if (waiting.has(socket)) {
        socket.terminate()
        continue
      }
      waiting.add(socket)
      socket.ping()
    }
  }
  const schedule = () => {
    const due = startedAt + Math.ceil(((ticks + 1) * intervalMs) / slices.length)
    timer = setTimeout(tick, Math.max(0, due - performance.now()))
  }
  schedule()
  return () => clearTimeout(timer)
}
