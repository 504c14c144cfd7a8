import type { Writable } from 'node:stream'
import type { SessionTransport } from './transport.js'

/**
 * One text frame sent to many sessions (a broadcast, a room or user event): its WebSocket frame,
 * header and UTF-8 payload in one buffer, is built once, on first use, and written as it is to every
 * session whose connection is a plain `ws` WebSocket (see {@link directSender}). `ws`'s own `send`
 * would encode the text and build a header per socket, and write them as two chunks.
 */
export class SharedFrame {
  readonly text: string
  #wire: Buffer | undefined

  constructor(text: string) {
    this.text = text
  }

  /** The unmasked, unfragmented text frame of {@link text} (RFC 6455 5.2). Never modified. */
  get wire(): Buffer {
    this.#wire ??= encodeTextFrame(this.text)
    return this.#wire
  }
}

/** A server-to-client text frame (FIN set, opcode 1, no mask, no extension bits) holding `text`. */
export function encodeTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text)
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = 0x81
  if (header === 2) {
    frame[1] = length
  } else if (header === 4) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  frame.write(text, header, 'utf8')
  return frame
}

/**
 * The part of a `ws` `Sender` read here (8.18 on, the releases with Blob support): its state (idle,
 * compressing, reading a blob) and its queue of frames waiting for that. The only `ws` internals the
 * sessions plugin relies on are read in this module and nowhere else; anything it does not recognise
 * (an older `ws` had `_deflating` instead) falls back to `send(text)`. The sockets come from the `ws`
 * that `@fastify/websocket` resolves, so `test/shared-frame.test.ts` checks the installed one.
 */
export interface DirectSender {
  readonly _state: number
  readonly _queue: { readonly length: number }
}

/** `ws` WebSocket internals read once per connection (not in its public types). */
interface WsSocketInternals {
  readonly _isServer?: unknown
  readonly _socket?: unknown
  readonly _extensions?: unknown
  readonly _sender?: Partial<DirectSender> | null
}

/** `ws`'s `Sender` state when it writes a frame at once (not compressing, not reading a blob). */
const SENDER_IDLE = 0

/**
 * The `Sender` of `socket` when `socket` is a server-side `ws` WebSocket over `transport` (its TCP
 * socket) with no extension negotiated (permessage-deflate would compress a frame, and queue frames
 * while it does) and a `Sender` of the shape this module knows; undefined for any other transport (a
 * Socket.IO connection, a `ws` version without that state), which then sends text.
 */
export function directSender(
  socket: SessionTransport,
  transport: Writable | undefined,
): DirectSender | undefined {
  if (transport === undefined) return undefined
  const ws = socket as unknown as WsSocketInternals
  if (ws._isServer !== true || ws._socket !== transport) return undefined
  const extensions = ws._extensions
  if (typeof extensions !== 'object' || extensions === null || Object.keys(extensions).length > 0)
    return undefined
  const sender = ws._sender
  if (typeof sender?._state !== 'number' || !Array.isArray(sender._queue)) return undefined
  return sender as DirectSender
}

/**
 * True when a prebuilt frame written to the TCP socket now leaves where `ws`'s `send` would put it:
 * the sender writes at once and holds no frame back, so the order of the session's frames is kept.
 */
export function senderIdle(sender: DirectSender): boolean {
  return sender._state === SENDER_IDLE && sender._queue.length === 0
}
