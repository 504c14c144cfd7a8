import { readFileSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'

/** Where the Socket.IO demo page is served (next to the native demo page at `/`). */
export const SOCKETIO_DEMO_PATH = '/socketio.html'

/**
 * The second demo page: an unchanged socket.io-client (the bundle the endpoint serves) on the
 * Socket.IO endpoint. One static file, the endpoint's path written in.
 */
export function registerSocketIoDemoPage(app: FastifyInstance, socketIoPath: string): void {
  const html = readFileSync(new URL('../../static/socketio-demo.html', import.meta.url), 'utf8').replaceAll(
    '__SOCKETIO_PATH__',
    socketIoPath,
  )
  app.get(SOCKETIO_DEMO_PATH, { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(html),
  )
}
