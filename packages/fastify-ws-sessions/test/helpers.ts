import type { AddressInfo } from 'node:net'
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

/** Rejects a promise that takes longer than `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export interface Closed {
  code: number
  reason: string
}

// biome-ignore lint/suspicious/noExplicitAny: frames are parsed JSON, asserted field by field
export type Frame = any

/** A `ws` client that queues the frames it receives. */
export class TestClient {
  readonly ws: WebSocket
  readonly closed: Promise<Closed>
  readonly #frames: Frame[] = []
  readonly #waiters: Array<(frame: Frame) => void> = []

  private constructor(ws: WebSocket) {
    this.ws = ws
    ws.on('error', () => {})
    ws.on('message', (data, isBinary) => {
      const frame: Frame = isBinary ? data : JSON.parse(String(data))
      const waiter = this.#waiters.shift()
      if (waiter) waiter(frame)
      else this.#frames.push(frame)
    })
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    })
  }

  static open(url: string, options: ClientOptions = {}): Promise<TestClient> {
    const ws = new WebSocket(url, options)
    const client = new TestClient(ws)
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client))
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
      ws.once('error', reject)
    })
  }

  /** The next frame received (or already queued). */
  next(timeoutMs = 3000): Promise<Frame> {
    const queued = this.#frames.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    return within(
      new Promise<Frame>((resolve) => {
        this.#waiters.push(resolve)
      }),
      timeoutMs,
      'a frame',
    )
  }

  /** Frames received and not yet taken. */
  get pending(): number {
    return this.#frames.length
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** Sends and returns the next frame received. */
  async request(frame: unknown): Promise<Frame> {
    this.send(frame)
    return this.next()
  }

  async sid(): Promise<string> {
    const reply = await this.request({ event: 'GET_SID', id: 'sid' })
    return reply.data.sid
  }

  async close(code = 1000): Promise<Closed> {
    this.ws.close(code)
    return within(this.closed, 3000, 'the client to close')
  }
}

export interface Rejection {
  status: number
  body: Frame
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
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined })
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
