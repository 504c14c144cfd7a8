import type { Socket } from 'node:net'
import WebSocket from 'ws'

/** `plain`: open once the WebSocket is open. `engineio`: once Socket.IO's namespace connect (`40`) came back. */
export type Protocol = 'plain' | 'engineio'

export interface ConnectOptions {
  url: string
  count: number
  /** Handshakes in progress at once. */
  concurrency: number
  protocol: Protocol
  /** Source addresses (127.0.0.x) used in turn: each has its own range of ephemeral ports. */
  localAddresses?: string[]
  timeoutMs?: number
}

export interface ConnectResult {
  sockets: WebSocket[]
  failed: number
  elapsedMs: number
  firstError: string | undefined
}

/** Engine.IO v4 heartbeat: the server's ping `2` is answered `3`. */
function answerPing(this: WebSocket, data: WebSocket.RawData): void {
  if (data.toString() === '2') this.send('3')
}

function openOne(url: string, protocol: Protocol, localAddress: string | undefined, timeoutMs: number) {
  return new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      ...(localAddress ? { localAddress } : {}),
    })
    const fail = (err: Error) => {
      ws.removeAllListeners()
      ws.on('error', () => {})
      ws.terminate()
      reject(err)
    }
    ws.once('error', fail)
    ws.once('close', (code) => fail(new Error(`closed with ${code} while connecting`)))
    const done = () => {
      ws.removeAllListeners('error')
      ws.removeAllListeners('close')
      ws.on('error', () => {})
      // Engine.IO: answer the server's pings for as long as the connection is held, not only while a
      // measurement listens (a long connect phase of the other side would otherwise outlast pingTimeout).
      if (protocol === 'engineio') ws.on('message', answerPing)
      resolve(ws)
    }
    if (protocol === 'plain') {
      ws.once('open', done)
      return
    }
    // Engine.IO v4 over a WebSocket: "0{...}" open packet, then "40" joins the main namespace.
    const onMessage = (data: WebSocket.RawData) => {
      const text = data.toString()
      if (text.startsWith('0')) ws.send('40')
      else if (text.startsWith('40')) {
        ws.off('message', onMessage)
        done()
      }
    }
    ws.on('message', onMessage)
  })
}

/** Opens `count` connections, `concurrency` handshakes at a time. */
export async function openConnections(options: ConnectOptions): Promise<ConnectResult> {
  const sockets: WebSocket[] = []
  let failed = 0
  let firstError: string | undefined
  let next = 0
  const started = performance.now()
  const addresses = options.localAddresses?.length ? options.localAddresses : [undefined]
  const worker = async () => {
    while (next < options.count) {
      const i = next++
      try {
        sockets.push(
          await openOne(
            options.url,
            options.protocol,
            addresses[i % addresses.length],
            options.timeoutMs ?? 15_000,
          ),
        )
      } catch (err) {
        failed++
        firstError ??= String((err as Error).message ?? err)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.count) }, worker))
  return { sockets, failed, elapsedMs: performance.now() - started, firstError }
}

/** Closes with a TCP reset: no TIME_WAIT left on either side (docs/RABBITMQ.md, "This machine's limits"). */
export function resetAll(sockets: WebSocket[]): void {
  for (const ws of sockets) {
    ws.removeAllListeners('message')
    const raw = (ws as unknown as { _socket?: Socket })._socket
    if (raw && typeof raw.resetAndDestroy === 'function' && !raw.destroyed) raw.resetAndDestroy()
    else ws.terminate()
  }
  sockets.length = 0
}
