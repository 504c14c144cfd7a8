/**
 * Baseline server of B3's "bare parts" side: a bare `ws` server that does by hand what the protocol
 * asks of a gateway at connect time and nothing more: one durable CLIENT_CONNECTED-shaped JSON
 * message per connection, sent with bare rhea to a durable queue (an echo UM consumes it), the
 * connection counted once the broker accepted that message. No Fastify, no session, no validation,
 * no batching beyond rhea's own. So the gateway's connect rate against it is what the gateway's
 * stack costs over the parts any implementation of the protocol must pay for (the broker's share
 * included), where against the bare ws server it is also the price of telling the UM. Its
 * connections are pinged as the gateway's are (lib/bare-heartbeat.ts), so that its idle CPU is the
 * liveness every implementation pays for.
 *
 * env: BARE_UM_QUEUE (queue name), BARE_NODE (the `node` field), BARE_HEARTBEAT_MS (the interval).
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Delivery, EventContext } from 'rhea'
import { type WebSocket, WebSocketServer } from 'ws'
import { jsonMessage, openConnection, senderOpen } from '../lib/amqp.js'
import { pingEvery } from '../lib/bare-heartbeat.js'
import { failAndExit, toParent } from '../lib/ipc.js'
import { serveCommands } from '../lib/server-child.js'

const queue = process.env.BARE_UM_QUEUE ?? 'bench-bare-um'
const node = process.env.BARE_NODE ?? 'bench-bare-parts'
const heartbeatMs = Number(process.env.BARE_HEARTBEAT_MS ?? 30_000)

async function main(): Promise<void> {
  const connection = await openConnection('bench-bare-ws-amqp')
  const sender = connection.open_sender({ target: { address: `/queue/${queue}`, durable: 2 } })
  await senderOpen(sender)
  let announced = 0
  let failed = 0
  // The connection each CLIENT_CONNECTED was sent for, until the broker's outcome.
  const outcomes = new WeakMap<Delivery, { open: boolean; counted: boolean; socket: WebSocket }>()
  sender.on('accepted', (context) => {
    const connected = context.delivery && outcomes.get(context.delivery)
    if (!connected?.open) return
    connected.counted = true
    announced++
  })
  const refused = (context: EventContext) => {
    const connected = context.delivery && outcomes.get(context.delivery)
    failed++
    connected?.socket.terminate()
  }
  sender.on('rejected', refused)
  sender.on('released', refused)
  sender.on('modified', refused)

  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1024 * 1024 })
  const stopPings = pingEvery(server, heartbeatMs)
  server.on('connection', (socket, request: IncomingMessage) => {
    socket.on('error', () => {})
    const sid = randomUUID()
    const body = {
      type: 'CLIENT_CONNECTED',
      v: 1,
      sid,
      node,
      ts: Date.now(),
      meta: {
        remoteAddress: request.socket.remoteAddress ?? '',
        ...(request.headers['user-agent'] ? { userAgent: request.headers['user-agent'] } : {}),
      },
    }
    const delivery = sender.send(jsonMessage(body, { durable: true }))
    const connected = { open: true, counted: false, socket }
    outcomes.set(delivery, connected)
    socket.once('close', () => {
      connected.open = false
      if (connected.counted) announced--
    })
  })
  server.on('error', failAndExit)
  server.on('listening', () => {
    const address = server.address()
    if (!address || typeof address === 'string') failAndExit(new Error('unexpected address'))
    else toParent({ type: 'ready', wsUrl: `ws://127.0.0.1:${address.port}/` })
  })

  serveCommands({
    sessions: () => announced,
    stop: async () => {
      if (failed > 0) process.stderr.write(`bare-ws-amqp: ${failed} CLIENT_CONNECTED rejected\n`)
      stopPings()
      for (const client of server.clients) client.terminate()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      connection.close()
    },
  })
}

main().catch(failAndExit)
