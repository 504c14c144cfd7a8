import { once } from 'node:events'
import { type AddressInfo, createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'

/** Which way bytes go through the proxy: from the connecting client to the target, or back. */
export type ProxyDirection = 'toTarget' | 'toClient'

interface Pair {
  client: Socket
  target: Socket
}

/**
 * A TCP proxy on 127.0.0.1 in front of one target (e.g. the broker), for tests that need to hold
 * one direction of a live connection: `hold('toClient')` keeps every byte the target sends (the
 * broker's dispositions, say) until `release('toClient')`, which passes them on in order; the other
 * direction keeps flowing. Nothing is dropped or reordered. Each accepted connection gets its own
 * connection to the target; `close()` ends them all.
 */
export class TcpProxy {
  readonly #pairs = new Set<Pair>()
  readonly #held = new Map<ProxyDirection, Array<{ to: Socket; chunk: Buffer }>>()
  /** Bytes passed (or held) in each direction since the start. */
  readonly bytes: Record<ProxyDirection, number> = { toTarget: 0, toClient: 0 }
  readonly #server: Server

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.#server = server
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const proxy = new TcpProxy(server, (server.address() as AddressInfo).port)
    server.on('connection', (client) => proxy.#accept(client, targetPort, targetHost))
    return proxy
  }

  /** Connections currently open through the proxy. */
  get connections(): number {
    return this.#pairs.size
  }

  /** True while bytes in `direction` are being held. */
  isHeld(direction: ProxyDirection): boolean {
    return this.#held.has(direction)
  }

  /** From now on, bytes in `direction` are kept here (on every connection) instead of passed on. */
  hold(direction: ProxyDirection): void {
    if (!this.#held.has(direction)) this.#held.set(direction, [])
  }

  /** Passes on everything held in `direction`, in order, and lets it flow again. */
  release(direction: ProxyDirection): void {
    const held = this.#held.get(direction)
    this.#held.delete(direction)
    for (const { to, chunk } of held ?? []) if (!to.destroyed) to.write(chunk)
  }

  /** Stops listening and ends every connection through the proxy. */
  async close(): Promise<void> {
    for (const { client, target } of this.#pairs) {
      client.destroy()
      target.destroy()
    }
    this.#pairs.clear()
    this.#held.clear()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #accept(client: Socket, targetPort: number, targetHost: string): void {
    const target = tcpConnect(targetPort, targetHost)
    const pair = { client, target }
    this.#pairs.add(pair)
    const forward = (from: Socket, to: Socket, direction: ProxyDirection) => {
      from.on('data', (chunk: Buffer) => {
        this.bytes[direction] += chunk.length
        const held = this.#held.get(direction)
        if (held) held.push({ to, chunk })
        else to.write(chunk)
      })
    }
    forward(client, target, 'toTarget')
    forward(target, client, 'toClient')
    const end = () => {
      this.#pairs.delete(pair)
      client.destroy()
      target.destroy()
    }
    client.on('close', end)
    target.on('close', end)
    client.on('error', end)
    target.on('error', end)
  }
}
