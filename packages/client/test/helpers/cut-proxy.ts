import { once } from 'node:events'
import { type AddressInfo, createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'

/**
 * A TCP proxy on 127.0.0.1 that a test uses as the network between a client and a gateway:
 * `cut()` destroys every connection through it without a close frame (what a dropped network
 * looks like: the gateway sees 1006) and refuses new ones until `restore()`; `stall()` keeps
 * what the gateway sends from reaching the client (those bytes are lost at the next `cut()`,
 * like frames in flight on a dying connection).
 */
export class CutProxy {
  readonly #live = new Set<Socket>()
  #down = false
  #stalled = false
  readonly #server: Server

  private constructor(
    server: Server,
    readonly port: number,
  ) {
    this.#server = server
  }

  static async start(targetPort: number): Promise<CutProxy> {
    const server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const proxy = new CutProxy(server, (server.address() as AddressInfo).port)
    server.on('connection', (client) => proxy.#accept(client, targetPort))
    return proxy
  }

  cut(): void {
    this.#down = true
    this.#stalled = false
    for (const socket of this.#live) socket.destroy()
    this.#live.clear()
  }

  restore(): void {
    this.#down = false
  }

  /** From now on, bytes towards the client are dropped (until the next `cut()`). */
  stall(): void {
    this.#stalled = true
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #accept(client: Socket, targetPort: number): void {
    if (this.#down) {
      client.destroy()
      return
    }
    const target = tcpConnect(targetPort, '127.0.0.1')
    this.#live.add(client)
    this.#live.add(target)
    client.on('data', (chunk: Buffer) => target.write(chunk))
    target.on('data', (chunk: Buffer) => {
      if (!this.#stalled) client.write(chunk)
    })
    const end = () => {
      this.#live.delete(client)
      this.#live.delete(target)
      client.destroy()
      target.destroy()
    }
    for (const socket of [client, target]) {
      socket.on('close', end)
      socket.on('error', end)
    }
  }
}
