/**
 * B2 baseline client: bare rhea -> RabbitMQ -> echo User Manager -> RabbitMQ -> back, with no
 * gateway. Sends CLIENT_EVENT-shaped bodies (durable, to a durable queue, as the gateway does) with
 * reply_to = its own durable reply queue; a request is done when the echo's EMIT comes back.
 *
 * env: BASE_UM_QUEUE, BASE_REPLY_QUEUE. Command `run` {inFlight, warmupMs, durationMs} -> `reqrep-done`.
 */
import type { Message, Sender } from 'rhea'
import { jsonBody, jsonMessage, openConnection, senderOpen } from '../lib/amqp.js'
import { encodeHistogram, newHistogram, recordMs } from '../lib/histogram.js'
import { failAndExit, onCommand, toParent } from '../lib/ipc.js'

const umQueue = process.env.BASE_UM_QUEUE ?? 'bench-base-um'
const replyQueue = process.env.BASE_REPLY_QUEUE ?? 'bench-base-reply'

async function main(): Promise<void> {
  const connection = await openConnection('bench-amqp-loadgen')
  const sender: Sender = connection.open_sender({ target: { address: `/queue/${umQueue}`, durable: 2 } })
  const receiver = connection.open_receiver({
    source: { address: `/queue/${replyQueue}`, durable: 2 },
    credit_window: 500,
    autoaccept: true,
  })
  await Promise.all([
    senderOpen(sender),
    new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve())),
  ])
  let onReply: ((k: number) => void) | undefined
  receiver.on('message', (ctx) => {
    const body = jsonBody(ctx.message as Message)
    const k = (body.data as { k?: unknown } | undefined)?.k
    if (typeof k === 'number') onReply?.(k)
  })

  const run = (inFlight: number, warmupMs: number, durationMs: number) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const histogram = newHistogram()
      const pending = new Map<number, number>()
      let nextK = 1
      let measuring = false
      let sending = true
      let completed = 0
      let measureStart = 0
      let measuredMs = 0
      const sendOne = () => {
        const k = nextK++
        pending.set(k, performance.now())
        const body = {
          type: 'CLIENT_EVENT',
          v: 1,
          sid: 'bench-baseline-client-0000',
          node: 'bench-baseline',
          ts: Date.now(),
          event: 'bench.ping',
          data: { k },
          requestId: k,
        }
        sender.send(jsonMessage(body, { reply_to: `/amq/queue/${replyQueue}`, durable: true }))
      }
      const finish = () => {
        onReply = undefined
        resolve({ completed, measuredMs, histogram: encodeHistogram(histogram), unanswered: pending.size })
      }
      onReply = (k) => {
        const sentAt = pending.get(k)
        if (sentAt === undefined) return
        pending.delete(k)
        if (measuring) {
          recordMs(histogram, performance.now() - sentAt)
          completed++
        }
        if (sending) sendOne()
        else if (pending.size === 0) finish()
      }
      for (let i = 0; i < inFlight; i++) sendOne()
      setTimeout(() => {
        histogram.reset()
        completed = 0
        measuring = true
        measureStart = performance.now()
        setTimeout(() => {
          measuring = false
          sending = false
          measuredMs = performance.now() - measureStart
          if (pending.size === 0) finish()
          else setTimeout(finish, 3000)
        }, durationMs)
      }, warmupMs)
    })

  onCommand(async (command) => {
    if (command.type === 'run') {
      const result = await run(Number(command.inFlight), Number(command.warmupMs), Number(command.durationMs))
      toParent({ type: 'reqrep-done', ...result })
    } else if (command.type === 'stop') {
      connection.close()
      setTimeout(() => process.exit(0), 200).unref()
    }
  })
  toParent({ type: 'ready' })
}

main().catch(failAndExit)
