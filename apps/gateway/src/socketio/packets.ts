import { PacketType } from 'socket.io-parser'
import WebSocket from 'ws'

/** ws's frame encoder (untyped in @types/ws): a text frame built once for many sockets. */
const frameOf = (
  WebSocket as unknown as {
    Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] }
  }
).Sender.frame

/**
 * Socket.IO v5 packets of the main namespace, as the text of one Engine.IO message: the gateway writes
 * them itself (what socket.io-parser's Encoder writes for a packet without binary), so that an event
 * sent to many sessions is encoded once (see {@link EventPacketCache}).
 */

/** `0{"sid":…,"pid"?:…}`: the main namespace is connected. */
export function connectPacket(sid: string, pid: string | undefined): string {
  return `${PacketType.CONNECT}${JSON.stringify(pid === undefined ? { sid } : { sid, pid })}`
}

/** `4[/nsp,]{"message":…,"data"?:…}`: a refused CONNECT (the client's `connect_error`). */
export function connectErrorPacket(nsp: string, message: string, data?: Record<string, unknown>): string {
  const prefix = nsp === '/' ? '' : `${nsp},`
  return `${PacketType.CONNECT_ERROR}${prefix}${JSON.stringify(data ? { message, data } : { message })}`
}

/** `1`: the server disconnects the main namespace (the client's `io server disconnect`; no reconnection). */
export const DISCONNECT_PACKET = `${PacketType.DISCONNECT}`

/** `3<id>[<reply>]`: the answer to a client's emit with an ack callback. */
export function ackPacket(id: number, reply: unknown): string {
  return `${PacketType.ACK}${id}${JSON.stringify([reply])}`
}

/** A frame of the native wire contract, as the gateway's sessions write it. */
export type NativeFrame =
  | { kind: 'event'; event: string; data: unknown; hasData: boolean; seq: number | undefined }
  | { kind: 'reply'; id: unknown; reply: Record<string, unknown> }

const SEQ_KEY = ',"seq":'

/** An EVENT packet, and (for one sent to several sessions as it is) its WebSocket frame, encoded once. */
export interface EventPacket {
  text: string
  /** engine.io's `wsPreEncodedFrame`: the websocket transport writes it as it is. */
  wsFrame?: Buffer[]
}

/**
 * Turns native event frames into Socket.IO EVENT packets, `2["<event>",<data>,"<seq>"]` (the `seq` as
 * Socket.IO's recovery offset, last argument, when the session has one). A fan-out hands every
 * session the same frame text: the last one is remembered, so it is parsed and encoded once, and
 * without a seq its WebSocket frame too (as Socket.IO's own broadcast does).
 */
export class EventPacketCache {
  #text: string | undefined
  #prefix = ''
  #plain: EventPacket | undefined
  #uses = 0

  /** The EVENT packet of an event frame `text` (without its `seq`), with `seq` as the offset. */
  packet(text: string, seq: number | undefined): EventPacket | undefined {
    if (text !== this.#text) {
      const frame = parseFrame(text)
      if (frame?.kind !== 'event') return undefined
      this.#text = text
      this.#prefix = `${PacketType.EVENT}[${JSON.stringify(frame.event)}${frame.hasData ? `,${JSON.stringify(frame.data)}` : ''}`
      this.#plain = undefined
      this.#uses = 0
    }
    if (seq !== undefined) return { text: `${this.#prefix},"${seq}"]` }
    this.#plain ??= { text: `${this.#prefix}]` }
    // From its second use on, the packet goes to several sessions: its frame is worth encoding once.
    if (++this.#uses === 2) {
      // "4": Engine.IO's message packet type.
      this.#plain.wsFrame = frameOf(Buffer.from(`4${this.#plain.text}`), {
        readOnly: false,
        mask: false,
        rsv1: false,
        opcode: 1,
        fin: true,
      })
    }
    return this.#plain
  }
}

/** The frame text without its trailing `seq`, and the seq (as `withSeq` of message-schema writes it). */
export function splitSeq(text: string): { text: string; seq: number | undefined } {
  const at = text.lastIndexOf(SEQ_KEY)
  if (at < 0) return { text, seq: undefined }
  const digits = text.slice(at + SEQ_KEY.length, -1)
  if (!/^\d{1,16}$/.test(digits) || !text.endsWith('}')) return { text, seq: undefined }
  return { text: `${text.slice(0, at)}}`, seq: Number(digits) }
}

/** Parses one native frame the session wrote; undefined for anything else (never expected). */
export function parseFrame(text: string): NativeFrame | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const frame = value as Record<string, unknown>
  if (typeof frame.event === 'string') {
    return {
      kind: 'event',
      event: frame.event,
      data: frame.data,
      hasData: 'data' in frame,
      seq: typeof frame.seq === 'number' ? frame.seq : undefined,
    }
  }
  if ('id' in frame && typeof frame.ok === 'boolean') {
    const { id, ...reply } = frame
    return { kind: 'reply', id, reply }
  }
  return undefined
}

/**
 * The native frame text of a client's Socket.IO emit: `socket.emit(event)` has no data,
 * `socket.emit(event, x)` has `x`, more arguments are sent as an array; the ack id becomes the frame's
 * `id`. The sessions plugin then checks it like any frame (event name, depth, size, rate).
 */
export function clientFrameText(args: unknown[], id: number | undefined): string {
  const [event, ...rest] = args
  const frame: Record<string, unknown> = { event }
  if (rest.length === 1) frame.data = rest[0]
  else if (rest.length > 1) frame.data = rest
  if (id !== undefined) frame.id = id
  return JSON.stringify(frame)
}
