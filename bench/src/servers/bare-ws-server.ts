/**
 * Baseline server: a bare `ws` server. Echoes every message back as it came (B1) and holds idle
 * connections (B3). No parsing, no validation, no bookkeeping beyond what `ws` does itself.
 */
import { WebSocketServer } from 'ws'
import { failAndExit, toParent } from '../lib/ipc.js'
import { serveCommands } from '../lib/server-child.js'

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 * 1024 })

server.on('connection', (socket) => {
  socket.on('error', () => {})
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }))
})
server.on('error', failAndExit)
server.on('listening', () => {
  const address = server.address()
  if (!address || typeof address === 'string') failAndExit(new Error('unexpected address'))
  toParent({ type: 'ready', wsUrl: `ws://127.0.0.1:${address.port}/` })
})

serveCommands({
  sessions: () => server.clients.size,
  stop: async () => {
    for (const client of server.clients) client.terminate()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  },
})
