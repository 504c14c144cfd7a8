import type WebSocket from 'ws'
import { asText, numberAfter } from './frames.js'

/**
 * Counts broadcast frames (`…"seq":N…`) on every connection and calls `onComplete(seq)` once every
 * connection of this process has received broadcast N.
 */
export function countBroadcasts(sockets: WebSocket[], onComplete: (seq: number) => void) {
  const counts = new Map<number, number>()
  let frames = 0
  const expected = sockets.length
  const listeners = new Map<WebSocket, (data: WebSocket.RawData) => void>()
  for (const ws of sockets) {
    // Engine.IO pings are answered by the connection's own listener (connect.ts).
    const onMessage = (data: WebSocket.RawData) => {
      const text = asText(data)
      const seq = numberAfter(text, '"seq":')
      if (seq < 0) return
      frames++
      const count = (counts.get(seq) ?? 0) + 1
      if (count === expected) {
        counts.delete(seq)
        onComplete(seq)
      } else {
        counts.set(seq, count)
      }
    }
    listeners.set(ws, onMessage)
    ws.on('message', onMessage)
  }
  return {
    get frames() {
      return frames
    },
    stop() {
      for (const [ws, onMessage] of listeners) ws.off('message', onMessage)
    },
  }
}
