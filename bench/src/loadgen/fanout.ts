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
  for (const ws of sockets) {
    ws.on('message', (data) => {
      const text = asText(data)
      // Engine.IO pings are answered by the connection itself (connect.ts).
      if (text === '2') return
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
    })
  }
  return {
    get frames() {
      return frames
    },
    stop() {
      for (const ws of sockets) ws.removeAllListeners('message')
    },
  }
}
