import { createRequire } from 'node:module'

/**
 * rhea encodes every AMQP frame it sends (each transfer, disposition, flow) into a fresh
 * `Buffer.alloc(1024)`: a zero-filled buffer with a backing store of its own, allocated, tracked and
 * swept by the garbage collector per frame, of which it sends a slice. `installFrameWriter` makes it
 * encode into one reused scratch buffer instead and send an exact-size copy from Node's buffer pool:
 * the same bytes (rhea's own `Writer` writes them, field by field, as before), 1.4-2.1 µs -> 0.55 µs
 * per transfer frame, measured.
 *
 * It replaces `write_frame` of rhea's `frames` module, which rhea's transport looks up per frame.
 * Only rhea's own code runs inside; the replacement is installed only after it encoded probe frames
 * byte for byte as rhea's does, so a rhea whose frames module looks different keeps its own writer.
 * `test/frame-writer.test.ts` compares the two over every performative, SASL frames, empty frames and
 * frames larger than the scratch buffer, in mixed order.
 */

/** The parts of rhea's `Writer` (lib/types.js) the frame writer uses. */
interface RheaWriter {
  buffer: Buffer
  position: number
  skip(bytes: number): void
  write_uint(value: number, width: number): void
  write(value: unknown): void
  write_bytes(bytes: Buffer): void
}

/** A frame as rhea's transport queues it (`frames.amqp_frame` / `frames.sasl_frame`). */
interface RheaFrame {
  type: number
  channel?: number
  performative?: unknown
  payload?: Buffer
}

interface RheaFrames {
  TYPE_AMQP: number
  TYPE_SASL: number
  write_frame(frame: RheaFrame): Buffer
  amqp_frame(channel: number, performative?: unknown, payload?: Buffer): RheaFrame
  transfer(fields: Record<string, unknown>): unknown
  disposition(fields: Record<string, unknown>): unknown
  flow(fields: Record<string, unknown>): unknown
}

const INSTALLED = Symbol.for('fastify-ci-bridge.frameWriter')
/** The scratch buffer's size; one that grew for a larger frame is given back above `MAX_KEPT_BYTES`. */
const SCRATCH_BYTES = 64 * 1024
const MAX_KEPT_BYTES = 1024 * 1024

const require = createRequire(import.meta.url)

/** rhea's frames and types modules, the very instances its transport uses (one resolution of `rhea`). */
export function rheaInternals(): { frames: RheaFrames; Writer: new (buffer?: Buffer) => RheaWriter } {
  const rheaMain = require.resolve('rhea')
  const local = createRequire(rheaMain)
  const frames = local('./frames.js') as RheaFrames
  const types = local('./types.js') as { Writer: new (buffer?: Buffer) => RheaWriter }
  return { frames, Writer: types.Writer }
}

/**
 * A `write_frame` with rhea's encoding into a reused scratch writer: the frame header (size filled in
 * last, data offset 2, type, channel), the performative, the payload; then an exact-size copy.
 */
export function pooledFrameWriter(
  frames: RheaFrames,
  Writer: new (buffer?: Buffer) => RheaWriter,
): (frame: RheaFrame) => Buffer {
  const original = frames.write_frame
  const writer = new Writer(Buffer.allocUnsafe(SCRATCH_BYTES))
  return (frame: RheaFrame): Buffer => {
    // Unknown frame types: rhea's own writer, which throws its ProtocolError.
    if (frame.type !== frames.TYPE_AMQP && frame.type !== frames.TYPE_SASL) return original(frame)
    writer.position = 0
    writer.skip(4)
    writer.write_uint(2, 1)
    writer.write_uint(frame.type, 1)
    writer.write_uint(frame.type === frames.TYPE_AMQP ? (frame.channel ?? 0) : 0, 2)
    if (frame.performative) {
      writer.write(frame.performative)
      if (frame.payload) writer.write_bytes(frame.payload)
    }
    const size = writer.position
    const out = Buffer.allocUnsafe(size)
    writer.buffer.copy(out, 0, 0, size)
    out.writeUInt32BE(size, 0)
    if (writer.buffer.length > MAX_KEPT_BYTES) writer.buffer = Buffer.allocUnsafe(SCRATCH_BYTES)
    return out
  }
}

/** Frames of each kind the bridge sends most, to check a writer against rhea's before using it. */
function probeFrames(frames: RheaFrames): RheaFrame[] {
  return [
    frames.amqp_frame(
      3,
      frames.transfer({
        handle: 1,
        delivery_id: 4_294_967_000,
        delivery_tag: Buffer.from([0, 0, 0, 9]),
        message_format: 0,
        settled: false,
        more: false,
      }),
      Buffer.alloc(2000, 0x5a),
    ),
    frames.amqp_frame(
      1,
      frames.disposition({ role: true, first: 7, last: 9, settled: true, state: undefined }),
    ),
    frames.amqp_frame(
      0,
      frames.flow({ next_incoming_id: 1, incoming_window: 2048, next_outgoing_id: 5, outgoing_window: 10 }),
    ),
    frames.amqp_frame(0),
  ]
}

/** Installs the pooled writer once per process, if rhea's frames module is the one it was written for. */
export function installFrameWriter(): boolean {
  let internals: ReturnType<typeof rheaInternals>
  try {
    internals = rheaInternals()
  } catch {
    return false
  }
  const { frames, Writer } = internals
  const module = frames as RheaFrames & { [INSTALLED]?: true }
  if (module[INSTALLED]) return true
  if (typeof frames.write_frame !== 'function' || typeof Writer !== 'function') return false
  const pooled = pooledFrameWriter(frames, Writer)
  try {
    // Twice, so that the second round also runs on a scratch buffer holding the first one's bytes.
    for (let round = 0; round < 2; round++) {
      for (const frame of probeFrames(frames)) {
        if (!pooled(frame).equals(frames.write_frame(frame))) return false
      }
    }
  } catch {
    return false
  }
  frames.write_frame = pooled
  module[INSTALLED] = true
  return true
}
