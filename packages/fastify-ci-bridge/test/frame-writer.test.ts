import assert from 'node:assert/strict'
import test from 'node:test'
import { installFrameWriter, pooledFrameWriter, rheaInternals } from '../src/frame-writer.js'

const { frames, Writer } = rheaInternals()
// rhea's own writer, taken before anything in this process installed the pooled one: the reference.
const rheasFunction = frames.write_frame
const rheaWriteFrame = rheasFunction.bind(frames)

type Fields = Record<string, unknown>
const performatives = frames as unknown as Record<string, (fields: Fields) => unknown> & {
  sasl_frame(performative: unknown): Parameters<typeof frames.write_frame>[0]
}

/** One frame of every performative the bridge's connection sends or could send, with varied sizes. */
function corpus(): Array<Parameters<typeof frames.write_frame>[0]> {
  const list: Array<Parameters<typeof frames.write_frame>[0]> = []
  const amqp = (channel: number, name: string, fields: Fields, payload?: Buffer) =>
    list.push(frames.amqp_frame(channel, performatives[name]?.(fields), payload))
  amqp(0, 'open', {
    container_id: 'gw-1',
    hostname: 'localhost',
    max_frame_size: 65_536,
    idle_time_out: 60_000,
  })
  amqp(1, 'begin', { next_outgoing_id: 0, incoming_window: 2048, outgoing_window: 4_294_967_295 })
  amqp(1, 'attach', {
    name: 'sender-1',
    handle: 0,
    role: false,
    snd_settle_mode: 0,
    rcv_settle_mode: 0,
    source: { address: 'gw-1' },
    target: { address: '/queue/um' },
    initial_delivery_count: 0,
  })
  for (const size of [0, 1, 200, 1023, 1024, 5000, 70_000, 200_000, 3]) {
    amqp(
      1,
      'transfer',
      {
        handle: 0,
        delivery_id: size,
        delivery_tag: Buffer.from([size & 0xff]),
        message_format: 0,
        settled: false,
      },
      Buffer.alloc(size, size & 0xff),
    )
  }
  amqp(2, 'disposition', { role: true, first: 1, last: 50, settled: true, state: undefined })
  amqp(2, 'flow', {
    next_incoming_id: 7,
    incoming_window: 2048,
    next_outgoing_id: 9,
    outgoing_window: 10,
    handle: 1,
    delivery_count: 3,
    link_credit: 500,
  })
  amqp(1, 'detach', {
    handle: 0,
    closed: true,
    error: { condition: 'amqp:link:detach-forced', description: 'x'.repeat(300) },
  })
  amqp(1, 'end', {})
  amqp(0, 'close', { error: { condition: 'amqp:connection:forced', description: 'bye' } })
  list.push(frames.amqp_frame(0)) // an empty frame (heartbeat)
  list.push(
    performatives.sasl_frame(
      performatives.sasl_init?.({ mechanism: 'PLAIN', initial_response: Buffer.from('\0guest\0guest') }),
    ),
  )
  return list
}

test('frame writer: the same bytes as rhea for every performative, size and order, scratch buffer reused', () => {
  const pooled = pooledFrameWriter(frames, Writer)
  const all = corpus()
  // Forward, backward and interleaved: each frame is written over the leftovers of another one.
  const orders = [all, [...all].reverse(), all.flatMap((frame, i) => [frame, all[(i * 7) % all.length]])]
  let checked = 0
  for (const order of orders) {
    for (const frame of order) {
      if (frame === undefined) continue
      const expected = rheaWriteFrame(frame)
      const got = pooled(frame)
      assert.ok(got.equals(expected), `frame ${checked} (${got.length} vs ${expected.length} bytes)`)
      assert.equal(got.readUInt32BE(0), got.length, 'size field')
      checked++
    }
  }
  assert.ok(checked > 60)
})

test('frame writer: each frame is its own buffer (a queued write is never overwritten)', () => {
  const pooled = pooledFrameWriter(frames, Writer)
  const [first, second] = corpus().filter((f) => f.payload !== undefined && f.payload.length > 100)
  assert.ok(first && second)
  const a = pooled(first)
  const kept = Buffer.from(a)
  pooled(second)
  assert.ok(a.equals(kept), 'the first frame is unchanged after the second was written')
})

test("frame writer: unknown frame types are rhea's, which refuses them", () => {
  const pooled = pooledFrameWriter(frames, Writer)
  assert.throws(() => pooled({ type: 9, channel: 0 }), /Unknown frame type/)
})

test('frame writer: installed once, and rhea then writes with it', () => {
  assert.equal(installFrameWriter(), true)
  assert.equal(installFrameWriter(), true)
  const frame = frames.amqp_frame(
    1,
    performatives.flow?.({
      next_incoming_id: 1,
      incoming_window: 5,
      next_outgoing_id: 2,
      outgoing_window: 3,
    }),
  )
  assert.ok(frames.write_frame(frame).equals(rheaWriteFrame(frame)))
  assert.notEqual(frames.write_frame, rheasFunction, 'the pooled writer is the one installed')
})
