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

/** An Engine.IO ping: the one-character text frame "2". */
function isPing(data: WebSocket.RawData): boolean {
  return Buffer.isBuffer(data) && data.length === 1 && data[0] === 0x32
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
        // Engine.IO pings ("2") are answered ("3") from now on, not only while a B4 round counts
        // frames: on a loaded machine the other side's 10,000 connects took longer than Socket.IO's
        // ping interval + timeout (45 s), and it dropped every client before the first round.
        ws.on('message', (ping: WebSocket.RawData) => {
          if (isPing(ping)) ws.send('3')
        })
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
