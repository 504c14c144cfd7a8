import type { Socket as EngineSocket } from 'engine.io'
import type { FastifyBaseLogger } from 'fastify'
import type { SessionRegistry, UserClaims } from 'fastify-ws-sessions'
import { Decoder, type Packet, PacketType } from 'socket.io-parser'
import { clientFrameText, connectErrorPacket } from './packets.js'
import { SioTransport } from './sio-transport.js'

export interface SioConnectionDeps {
  sessions: () => SessionRegistry
  /** Verifies the CONNECT's `auth.token` (the native JWT check); undefined: authentication off. */
  verifyToken: ((token: string) => Promise<UserClaims>) | undefined
  /** With resume on, CONNECT's `pid`/`offset` resume the session (Socket.IO connection state recovery). */
  resume: boolean
  /** A connection without a successful CONNECT within this time is closed. */
  connectTimeoutMs: number
  log: FastifyBaseLogger
  /** The client's address as the HTTP layer saw it (trustProxy applied), by handshake request. */
  addressOf: (conn: EngineSocket) => string
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Stands for an undecodable packet in the session's frame checks: not JSON, so `BAD_FRAME`. */
const NOT_A_PACKET = 'not a Socket.IO packet'

/** The attachment count and ack id of a BINARY_EVENT / BINARY_ACK header (`5<n>-[/nsp,][<id>][…`). */
function binaryHeader(text: string): { attachments: number; ackId: number | undefined } {
  const match = /^[56](\d{1,4})-(?:\/[^,]*,)?(\d+)?\[/.exec(text)
  if (!match) return { attachments: 0, ackId: undefined }
  return {
    // socket.io-parser's own bound on attachments (10): past it they count as bad frames.
    attachments: Math.min(10, Number(match[1])),
    ackId: text[0] === '5' && match[2] !== undefined ? Number(match[2]) : undefined,
  }
}

/**
 * One decoder for every connection: binary packets are refused before it (their attachments never
 * reach it), so it holds no state between calls, and `decoded` fires within `add`, for `decoding`.
 */
const decoder = new Decoder()
let decoding: SioConnection | undefined
decoder.on('decoded', (packet: Packet) => decoding?.onPacket(packet))

/**
 * One Engine.IO connection speaking Socket.IO v5: waits for the main namespace's CONNECT (others get
 * CONNECT_ERROR), verifies `auth.token`, attaches a session of fastify-ws-sessions on a SioTransport
 * (resuming it when `pid`/`offset` are given), then turns the client's packets into native frames.
 */
export class SioConnection {
  readonly #conn: EngineSocket
  readonly #deps: SioConnectionDeps
  #log: FastifyBaseLogger | undefined
  #transport: SioTransport | undefined
  #state: 'waiting' | 'attaching' | 'connected' | 'closed' = 'waiting'
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Binary attachments still to come of a refused binary packet: dropped, not counted again. */
  #attachments = 0

  constructor(conn: EngineSocket, deps: SioConnectionDeps) {
    this.#conn = conn
    this.#deps = deps
    this.#timer = setTimeout(() => {
      if (this.#state === 'waiting' || this.#state === 'attaching') {
        this.#logger.debug('no Socket.IO CONNECT in time: closing')
        conn.close()
      }
    }, deps.connectTimeoutMs)
    this.#timer.unref()
    conn.on('message', (data: string | Buffer) => this.#onMessage(data))
    conn.on('close', (reason: string) => this.#onClose(reason))
  }

  #onMessage(data: string | Buffer): void {
    if (typeof data !== 'string') {
      // The attachments of a binary packet refused with its header: dropped. Any other: a bad frame.
      if (this.#attachments > 0) this.#attachments--
      else if (this.#transport) this.#transport.receive(Buffer.from(data), true)
      return
    }
    const type = data.charCodeAt(0) - 48
    if (type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK) {
      if (!this.#transport) return
      const header = binaryHeader(data)
      this.#attachments = header.attachments
      this.#transport.refuseBinary(header.ackId)
      return
    }
    try {
      decoding = this
      decoder.add(data)
    } catch (err) {
      // Not a Socket.IO packet: a bad frame of the session (answered, counted; never read as a native
      // frame), or closed before one.
      if (this.#transport) this.#transport.receive(Buffer.from(NOT_A_PACKET), false)
      else {
        this.#logger.debug({ err }, 'bad Socket.IO packet before CONNECT: closing')
        this.#conn.close()
      }
    } finally {
      decoding = undefined
    }
  }

  /** Made on first use: most connections never log a line of their own, and a child logger costs memory. */
  get #logger(): FastifyBaseLogger {
    this.#log ??= this.#deps.log.child({ transport: 'socket.io' })
    return this.#log
  }

  /** A packet of this connection (from the shared decoder). */
  onPacket(packet: Packet): void {
    if (packet.type === PacketType.CONNECT) {
      if (packet.nsp !== '/') {
        this.#conn.write(
          connectErrorPacket(
            packet.nsp,
            'Invalid namespace: this gateway serves the main namespace "/" only',
            {
              code: 'INVALID_NAMESPACE',
            },
          ),
        )
        return
      }
      if (this.#state === 'waiting') void this.#connect(packet.data)
      return
    }
    // While attaching, the transport holds what comes (the session may not listen yet).
    if (packet.nsp !== '/' || this.#state === 'waiting' || this.#state === 'closed' || !this.#transport)
      return
    if (packet.type === PacketType.EVENT) {
      const args = Array.isArray(packet.data) ? (packet.data as unknown[]) : []
      this.#transport.receive(Buffer.from(clientFrameText(args, packet.id)), false)
    } else if (packet.type === PacketType.DISCONNECT) {
      // The client's socket.disconnect(): a normal close that ends the session.
      this.#state = 'closed'
      this.#transport.ended(1000, 'client disconnect')
      this.#conn.close()
    }
    // ACK: the gateway never asks the client for one; nothing to do.
  }

  async #connect(auth: unknown): Promise<void> {
    this.#state = 'attaching'
    const data = isObject(auth) ? auth : {}
    const refuse = (message: string, code: string) => {
      if (this.#state === 'closed') return
      this.#state = 'waiting'
      this.#conn.write(connectErrorPacket('/', message, { code }))
    }
    let claims: UserClaims | undefined
    const { verifyToken } = this.#deps
    if (verifyToken) {
      const token = data.token
      if (typeof token !== 'string' || token.length === 0) {
        refuse('authentication failed: no token (send it as auth: {token})', 'UNAUTHORIZED')
        return
      }
      try {
        claims = await verifyToken(token)
      } catch (err) {
        this.#logger.info({ err: (err as Error).message }, 'Socket.IO CONNECT refused: bad token')
        refuse('authentication failed: the token was refused', 'UNAUTHORIZED')
        return
      }
    }
    if (this.#state !== 'attaching') return // closed meanwhile
    const pid = this.#deps.resume && typeof data.pid === 'string' ? data.pid : undefined
    const offset = typeof data.offset === 'string' && /^\d{1,15}$/.test(data.offset) ? Number(data.offset) : 0
    const transport = new SioTransport(this.#conn, pid)
    this.#transport = transport
    const request = this.#conn.request
    const result = await this.#deps.sessions().attach({
      transport,
      remoteAddress: this.#deps.addressOf(this.#conn),
      userAgent: header(request.headers['user-agent']),
      origin: header(request.headers.origin),
      claims,
      ...(pid !== undefined ? { resume: { key: pid, lastSeq: offset } } : {}),
      log: this.#deps.log,
    })
    if (!result.ok) {
      this.#transport = undefined
      transport.ended(1000, 'refused')
      refuse(result.message, result.code)
      return
    }
    if (this.#state !== 'attaching') {
      // The connection closed while the session was made: the session sees a dropped connection.
      transport.ended(1006, '')
      return
    }
    this.#state = 'connected'
    clearTimeout(this.#timer)
  }

  #onClose(reason: string): void {
    clearTimeout(this.#timer)
    const state = this.#state
    this.#state = 'closed'
    if (state === 'connected' || state === 'attaching') this.#transport?.ended(1006, reason)
  }
}
