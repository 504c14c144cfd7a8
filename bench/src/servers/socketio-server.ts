/**
 * Baseline server for B4: Socket.IO 4.8 on the websocket transport. `POST /broadcast` with
 * `{event, data}` calls `io.emit(event, data)` and answers `{delivered}` (the number of clients).
 */
import { createServer, type IncomingMessage } from 'node:http'
import { Server } from 'socket.io'
import { failAndExit, toParent } from '../lib/ipc.js'
import { serveCommands } from '../lib/server-child.js'

async function bodyOf(request: IncomingMessage): Promise<{ event: string; data?: unknown }> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as { event: string; data?: unknown }
}

const http = createServer((request, response) => {
  if (request.method === 'POST' && request.url === '/broadcast') {
    bodyOf(request).then(
      ({ event, data }) => {
        io.emit(event, data)
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end(JSON.stringify({ delivered: io.engine.clientsCount }))
      },
      () => {
        response.writeHead(400).end()
      },
    )
    return
  }
  response.writeHead(404).end()
})

const io = new Server(http, { transports: ['websocket'], serveClient: false })

http.on('error', failAndExit)
http.listen(0, '127.0.0.1', () => {
  const address = http.address()
  if (!address || typeof address === 'string') failAndExit(new Error('unexpected address'))
  const base = `127.0.0.1:${address.port}`
  toParent({
    type: 'ready',
    wsUrl: `ws://${base}/socket.io/?EIO=4&transport=websocket`,
    broadcastUrl: `http://${base}/broadcast`,
  })
})

serveCommands({
  sessions: () => io.engine.clientsCount,
  stop: async () => {
    io.disconnectSockets(true)
    await new Promise<void>((resolve) => io.close(() => resolve()))
  },
})
