import type { AddressInfo } from 'node:net'
import { within } from '@session-gateway/test-kit'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import WebSocket, { type ClientOptions } from 'ws'
import { fastifyWsSessions, type WsSessionsOptions } from '../src/index.js'

export interface TestServer {
  app: FastifyInstance
  url: string
  close(): Promise<void>
}

/** A Fastify app with the plugin, listening on a random local port. */
export async function startServer(
  options: WsSessionsOptions = {},
  setup?: (app: FastifyInstance) => void | Promise<void>,
  fastifyOptions: FastifyServerOptions = {},
): Promise<TestServer> {
  const app = Fastify({ logger: false, ...fastifyOptions })
  await app.register(fastifyWsSessions, options)
  if (setup) await setup(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { app, url: `ws://127.0.0.1:${port}${options.path ?? '/ws'}`, close: () => app.close() }
}

/** The JSON error body of a refused upgrade. */
export interface RejectionBody {
  code: string
  message: string
}

export interface Rejection {
  status: number
  /** `undefined` when the response had no body. */
  body: RejectionBody | undefined
}

/** Attempts an upgrade that the server should refuse; resolves with the HTTP status and JSON body. */
export function expectRejected(url: string, options: ClientOptions = {}): Promise<Rejection> {
  const ws = new WebSocket(url, options)
  return within(
    new Promise<Rejection>((resolve, reject) => {
      ws.once('open', () => {
        ws.terminate()
        reject(new Error('the upgrade was accepted'))
      })
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          text += chunk
        })
        res.on('end', () => {
          ws.terminate()
          resolve({
            status: res.statusCode ?? 0,
            body: text ? (JSON.parse(text) as RejectionBody) : undefined,
          })
        })
      })
    }),
    3000,
    'the upgrade to be refused',
  )
}

/** Records every onDisconnect call. */
export function disconnectRecorder() {
  const calls: Array<{ sid: string; code: number; reason: string }> = []
  return {
    calls,
    onDisconnect(session: { sid: string }, code: number, reason: string) {
      calls.push({ sid: session.sid, code, reason })
    },
    for(sid: string) {
      return calls.filter((c) => c.sid === sid)
    },
  }
}

/**
 * A server for slow-consumer tests: a 256 KiB send-buffer bound, no heartbeat, a short close
 * timeout, and a recorder of its disconnects; closed after the test.
 */
export async function startSlowConsumerServer(t: { after(fn: () => Promise<void>): void }) {
  const recorder = disconnectRecorder()
  const server = await startServer({
    heartbeatIntervalMs: 0,
    maxBufferedBytes: 256 * 1024,
    closeTimeoutMs: 100,
    onDisconnect: recorder.onDisconnect,
  })
  t.after(() => server.close())
  return { server, recorder }
}
