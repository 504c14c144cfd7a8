import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/** Why a connection was refused or closed before it completed a request (`gateway_connections_refused_total{reason}`). */
export const REFUSAL_REASONS = [
  'headers_timeout',
  'body_timeout',
  'idle_timeout',
  'max_connections',
  'max_connections_evicted',
  'per_address',
] as const
export type RefusalReason = (typeof REFUSAL_REASONS)[number]

export interface ConnectionGuardOptions {
  /** Open TCP connections at most, WebSocket sessions included (Node's `server.maxConnections`). */
  maxConnections: number
  /** Connections of one address that have not completed their request; 0: no limit. */
  maxPendingPerAddress: number
  /**
   * True for a peer whose `X-Forwarded-For` is trusted (GATEWAY_TRUST_PROXY): before its headers are in,
   * a connection from it is counted under no address (it carries many clients); once they are, under the
   * client's address (`request.ip`).
   */
  isTrustedProxy: (address: string) => boolean
  /** Every connection refused or closed by a bound, with the peer's address. */
  onRefused: (reason: RefusalReason, remoteAddress: string | undefined) => void
}

interface Tracked {
  /** `ip:<peer>`, or undefined for a trusted proxy (not counted before its headers). */
  readonly peerKey: string | undefined
  /** The key it counts under now; undefined while it does not count. */
  key: string | undefined
  /** Requests read whose response has not finished. */
  outstanding: number
  /** The last request read on it: while it is not `complete`, its body is still arriving. */
  lastRequest: IncomingMessage | undefined
}

/**
 * Connection-level bounds of one HTTP listener, before any request reaches Fastify:
 * - at most `maxConnections` open TCP connections; when a new one fills the last slot, the oldest
 *   connection that has not completed its request (or sits idle between keep-alive requests) is closed
 *   to make room, so that a slow client can never hold a slot a fresh one needs; past the cap Node
 *   drops new connections itself (`drop`);
 * - at most `maxPendingPerAddress` connections per address that have not completed their request
 *   (a new one past it is closed at once);
 * - counts what Node's own timeouts close (headers, body, keep-alive idle).
 * WebSocket upgrades leave the tracking once their headers are in (a session has its own bounds).
 */
export class ConnectionGuard {
  /** Connections not (yet) upgraded, oldest first (moved to the back when they go idle). */
  readonly #http = new Map<Socket, Tracked>()
  /** Pending connections per key. */
  readonly #pending = new Map<string, number>()
  #pendingTotal = 0
  #open = 0
  #closing = false

  readonly #options: ConnectionGuardOptions
  readonly #socketClosed: (this: Socket) => void

  constructor(options: ConnectionGuardOptions) {
    this.#options = options
    const guard = this
    this.#socketClosed = function (this: Socket) {
      guard.#open--
      guard.#forget(this)
    }
  }

  /** Open TCP connections on the listener (sessions included). */
  get open(): number {
    return this.#open
  }

  /** Connections that have not completed their request (those counted per address). */
  get pending(): number {
    return this.#pendingTotal
  }

  /** Pending connections counted for one address (`ip:<address>`). */
  pendingOf(key: string): number {
    return this.#pending.get(key) ?? 0
  }

  attach(server: Server): void {
    server.maxConnections = this.#options.maxConnections
    server.on('connection', (socket: Socket) => this.#connected(socket))
    server.on('drop', (data?: { remoteAddress?: string }) =>
      this.#options.onRefused('max_connections', data?.remoteAddress),
    )
    server.on('request', (request: IncomingMessage, response: ServerResponse) =>
      this.#requestRead(request, response),
    )
    // First, so that an upgrade has left the pending count before any hook sees its request.
    server.prependListener('upgrade', (_request: IncomingMessage, socket: Socket) => this.#forget(socket))
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code !== 'ERR_HTTP_REQUEST_TIMEOUT') return
      const tracked = this.#http.get(socket)
      const bodyArriving = tracked?.lastRequest !== undefined && !tracked.lastRequest.complete
      this.#options.onRefused(bodyArriving ? 'body_timeout' : 'headers_timeout', socket.remoteAddress)
    })
    // Node emits 'timeout' for the keep-alive idle timeout (server.timeout stays 0); with a listener
    // it no longer destroys the socket itself, so this does.
    server.on('timeout', (socket: Socket) => {
      if (this.#http.has(socket)) this.#options.onRefused('idle_timeout', socket.remoteAddress)
      socket.destroy()
    })
  }

  /**
   * The request's headers are in and `ip` is the client's address (trustProxy applied): a connection
   * from a trusted proxy now counts under it. False when that address is over its cap (answer 429).
   */
  addressKnown(socket: Socket, ip: string): boolean {
    const tracked = this.#http.get(socket)
    if (!tracked || tracked.peerKey !== undefined || tracked.key !== undefined) return true
    const key = `ip:${ip}`
    if (this.#full(key)) {
      this.#options.onRefused('per_address', ip)
      return false
    }
    this.#count(tracked, key)
    return true
  }

  /**
   * Shutdown: closes every connection that has not completed its request or sits idle, and refuses new
   * ones (Node stops timing them out once `server.close()` runs, and would wait for them forever).
   */
  closePending(): void {
    this.#closing = true
    for (const [socket, tracked] of this.#http) if (this.#evictable(tracked)) socket.destroy()
  }

  #connected(socket: Socket): void {
    if (this.#closing) {
      socket.destroy()
      return
    }
    const address = socket.remoteAddress
    if (address === undefined) return // already gone
    const peerKey = this.#options.isTrustedProxy(address) ? undefined : `ip:${address}`
    if (peerKey !== undefined && this.#full(peerKey)) {
      this.#options.onRefused('per_address', address)
      socket.destroy()
      return
    }
    this.#open++
    const tracked: Tracked = { peerKey, key: undefined, outstanding: 0, lastRequest: undefined }
    this.#http.set(socket, tracked)
    if (peerKey !== undefined) this.#count(tracked, peerKey)
    // One listener for every socket (a socket closes once): no closure and no `once` wrapper per connection.
    socket.on('close', this.#socketClosed)
    if (this.#open >= this.#options.maxConnections) this.#evictOldest(socket)
  }

  #requestRead(request: IncomingMessage, response: ServerResponse): void {
    const socket = request.socket
    const tracked = this.#http.get(socket)
    if (!tracked) return
    tracked.outstanding++
    tracked.lastRequest = request
    if (tracked.key === undefined && tracked.peerKey !== undefined) this.#count(tracked, tracked.peerKey)
    response.once('close', () => {
      if (this.#http.get(socket) !== tracked) return
      tracked.outstanding--
      if (tracked.outstanding > 0) return
      this.#uncount(tracked)
      // Idle between keep-alive requests from now: the newest candidate for eviction.
      this.#http.delete(socket)
      this.#http.set(socket, tracked)
    })
  }

  /** Closes the oldest connection that has not completed its request, or is idle (never `except`). */
  #evictOldest(except: Socket): void {
    for (const [socket, tracked] of this.#http) {
      if (socket === except || !this.#evictable(tracked)) continue
      this.#options.onRefused('max_connections_evicted', socket.remoteAddress)
      this.#forget(socket)
      socket.destroy()
      return
    }
  }

  /** Waiting for a request, idle, or still receiving a body; not a request being answered. */
  #evictable(tracked: Tracked): boolean {
    return tracked.outstanding === 0 || (tracked.lastRequest !== undefined && !tracked.lastRequest.complete)
  }

  #full(key: string): boolean {
    const cap = this.#options.maxPendingPerAddress
    return cap > 0 && (this.#pending.get(key) ?? 0) >= cap
  }

  #count(tracked: Tracked, key: string): void {
    tracked.key = key
    this.#pendingTotal++
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + 1)
  }

  #uncount(tracked: Tracked): void {
    const key = tracked.key
    if (key === undefined) return
    tracked.key = undefined
    this.#pendingTotal--
    const left = (this.#pending.get(key) ?? 1) - 1
    if (left > 0) this.#pending.set(key, left)
    else this.#pending.delete(key)
  }

  /** The connection was upgraded or closed: no longer tracked. */
  #forget(socket: Socket): void {
    const tracked = this.#http.get(socket)
    if (!tracked) return
    this.#uncount(tracked)
    this.#http.delete(socket)
  }
}
