import { EventEmitter } from 'node:events'
import type { Socket as EngineSocket } from 'engine.io'
import type { SessionTransport, TransportOpened } from 'fastify-ws-sessions'
import { TransportState } from 'fastify-ws-sessions'
import {
  ackPacket,
  connectPacket,
  DISCONNECT_PACKET,
  EventPacketCache,
  parseFrame,
  splitSeq,
} from './packets.js'

/** The message of the BAD_FRAME answer to a binary packet. */
export const BINARY_REFUSED = 'binary attachments are not accepted: the gateway carries JSON only'

/** The event a Socket.IO session gets just before the gateway closes it: `{code, reason}`. */
export const CLOSE_EVENT = 'gateway.close'

/**
 * Close codes after which a Socket.IO client should come back (node restarting or overloaded): the
 * connection is closed without a DISCONNECT packet, so the client reconnects (and, with resume on,
 * recovers). Every other server close (1000, policy, 4000-4999) is a DISCONNECT: the client's
 * `disconnect` reason is `io server disconnect` and it does not reconnect by itself.
 */
const RECONNECT_CODES: ReadonlySet<number> = new Set([1001, 1011, 1012, 1013])

/** engine.io's write options, with the pre-encoded frame its websocket transport reads (untyped there). */
type WriteOptions = NonNullable<Parameters<EngineSocket['write']>[1]> & { wsPreEncodedFrame?: Buffer[] }

/** One EVENT packet encoding shared by every transport: a fan-out is encoded once. */
const events = new EventPacketCache()

/** engine.io's websocket transport keeps its `ws` socket here; polling has none. */
function wsBuffered(conn: EngineSocket): number {
  const socket = (conn.transport as unknown as { socket?: { bufferedAmount?: unknown } }).socket
  return typeof socket?.bufferedAmount === 'number' ? socket.bufferedAmount : 0
}

/**
 * A Socket.IO connection as a session's transport (fastify-ws-sessions `SessionTransport`): native
 * frames the session writes become Socket.IO packets (event frames EVENT, replies ACK), the client's
 * packets become native frames (see SioConnection), engine.io's heartbeat answers the session's.
 */
export class SioTransport extends EventEmitter implements SessionTransport {
  readonly #conn: EngineSocket
  /** The resume key the client presented (its `pid`), kept as its `pid` when the session resumes. */
  readonly #presentedKey: string | undefined
  #state: number = TransportState.OPEN
  /** Characters handed to engine.io and not yet flushed to the transport. */
  #queued = 0
  #paused: Array<[Buffer, boolean]> | undefined
  #closed = false
  /** A binary packet was refused: the session's BAD_FRAME error answers it (through its ack, if any). */
  #binary: { ackId: number | undefined } | undefined

  constructor(conn: EngineSocket, presentedKey: string | undefined) {
    super()
    this.#conn = conn
    this.#presentedKey = presentedKey
    conn.on('flush', (packets: Array<{ type: string; data?: unknown }>) => {
      for (const p of packets)
        if (p.type === 'message' && typeof p.data === 'string') this.#queued -= p.data.length
    })
    conn.on('heartbeat', () => this.emit('pong'))
  }

  get readyState(): number {
    return this.#state
  }

  get bufferedAmount(): number {
    return this.#queued + wsBuffered(this.#conn)
  }

  #write(packet: string): void {
    this.#queued += packet.length
    this.#conn.write(packet)
  }

  opened(info: TransportOpened): void {
    this.#write(connectPacket(info.sid, info.resumeKey ?? (info.resumed ? this.#presentedKey : undefined)))
  }

  send(text: string): void {
    if (this.#state !== TransportState.OPEN) return
    if (!text.startsWith('{"event"')) {
      this.#reply(text)
      return
    }
    const { text: base, seq } = splitSeq(text)
    const binary = this.#binary
    if (binary !== undefined && seq === undefined) {
      // The session's answer to a refused binary packet: its error, in Socket.IO's terms.
      this.#binary = undefined
      const frame = parseFrame(base)
      const data = frame?.kind === 'event' ? (frame.data as { code?: unknown } | undefined) : undefined
      if (frame?.kind === 'event' && frame.event === 'error' && data?.code === 'BAD_FRAME') {
        const error = { code: 'BAD_FRAME', message: BINARY_REFUSED }
        this.#write(
          binary.ackId === undefined
            ? `2${JSON.stringify(['error', error])}`
            : ackPacket(binary.ackId, { ok: false, error }),
        )
        return
      }
    }
    const packet = events.packet(base, seq)
    if (packet === undefined) return
    this.#queued += packet.text.length
    const options: WriteOptions = packet.wsFrame ? { wsPreEncodedFrame: packet.wsFrame } : {}
    this.#conn.write(packet.text, options)
  }

  #reply(text: string): void {
    const frame = parseFrame(text)
    if (frame?.kind !== 'reply' || typeof frame.id !== 'number') return
    this.#write(ackPacket(frame.id, frame.reply))
  }

  close(code: number, reason: string): void {
    if (this.#state !== TransportState.OPEN) return
    this.#state = TransportState.CLOSING
    this.#write(`2${JSON.stringify([CLOSE_EVENT, { code, reason }])}`)
    if (!RECONNECT_CODES.has(code)) this.#write(DISCONNECT_PACKET)
    this.#conn.close()
  }

  terminate(): void {
    if (this.#state === TransportState.CLOSED) return
    this.#state = TransportState.CLOSING
    this.#conn.close(true)
  }

  /** engine.io pings the client itself (GATEWAY_SOCKETIO pingInterval); its pongs are `pong` here. */
  ping(): void {}

  pause(): void {
    this.#paused ??= []
  }

  resume(): void {
    const held = this.#paused
    this.#paused = undefined
    for (const [data, isBinary] of held ?? []) this.emit('message', data, isBinary)
  }

  /** A binary packet (ack id `ackId`) from the client: refused, as a bad frame of the session. */
  refuseBinary(ackId: number | undefined): void {
    this.#binary = { ackId }
    this.receive(Buffer.from(BINARY_REFUSED), true)
  }

  /** A frame from the client (SioConnection), held while paused. */
  receive(data: Buffer, isBinary: boolean): void {
    if (this.#state !== TransportState.OPEN) return
    if (this.#paused) this.#paused.push([data, isBinary])
    else this.emit('message', data, isBinary)
  }

  /** The connection is over: `code` as the session should see it (1000 for the client's DISCONNECT). */
  ended(code: number, reason: string): void {
    if (this.#closed) return
    this.#closed = true
    this.#state = TransportState.CLOSED
    this.emit('close', code, Buffer.from(reason))
  }
}
