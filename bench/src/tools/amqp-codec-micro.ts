/**
 * Micro-benchmark of the bridge's AMQP message codec against rhea's, in one process, rounds
 * alternating: encoding a CLIENT_EVENT as B2 sends it (`encodeJsonPayload` vs `encodeJsonMessage` +
 * rhea's `message.encode`) and decoding an EMIT as RabbitMQ delivers it (`decodeCommonPayload` vs
 * rhea's `message.decode`). Usage: node --import tsx src/tools/amqp-codec-micro.ts [rounds=4] [n=200000]
 */
import rhea, { type Message } from 'rhea'
import { encodeJsonMessage } from '../../../packages/fastify-ci-bridge/src/codec.js'
import { encodeJsonPayload } from '../../../packages/fastify-ci-bridge/src/payload.js'
import { decodeCommonPayload } from '../../../packages/fastify-ci-bridge/src/payload-decode.js'

const rounds = Number(process.argv[2] ?? 4)
const n = Number(process.argv[3] ?? 200_000)
const event = {
  type: 'CLIENT_EVENT',
  sid: 'Qm9vdGNhbXAtc2lkLTEyMzQ1Njc4',
  node: 'node-1',
  event: 'echo',
  data: { seq: 1, text: 'x'.repeat(40) },
  requestId: 7,
}
const eventOptions = { replyTo: '/queue/gateway.node.node-1', durable: true }
// An EMIT with RabbitMQ's header (durable, first_acquirer) in front, as the gateway receives it.
const emit = Buffer.concat([
  Buffer.from('005370c006054140404140', 'hex'),
  encodeJsonPayload(
    { type: 'EMIT', sid: event.sid, event: 'echo', data: event.data },
    {
      correlationId: 'c-1',
      applicationProperties: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    },
  ),
])
const rheaDecode = (rhea.message as unknown as { decode: (b: Buffer) => Message }).decode

function nsPer(f: () => unknown): number {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) f()
  return Number(process.hrtime.bigint() - start) / n
}

const rows: string[] = []
for (let round = 1; round <= rounds; round++) {
  const encodeRhea = nsPer(() => rhea.message.encode(encodeJsonMessage(event, eventOptions)))
  const encodeOurs = nsPer(() => encodeJsonPayload(event, eventOptions))
  const decodeRhea = nsPer(() => rheaDecode(emit))
  const decodeOurs = nsPer(() => decodeCommonPayload(emit))
  rows.push(
    `round ${round}: encode rhea ${encodeRhea.toFixed(0)} ns, payload.ts ${encodeOurs.toFixed(0)} ns (${(encodeOurs / encodeRhea).toFixed(2)}x); ` +
      `decode rhea ${decodeRhea.toFixed(0)} ns, payload-decode.ts ${decodeOurs.toFixed(0)} ns (${(decodeOurs / decodeRhea).toFixed(2)}x)`,
  )
}
process.stdout.write(`${rows.join('\n')}\n`)
