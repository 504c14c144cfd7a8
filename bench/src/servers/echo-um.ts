/**
 * The echo User Manager of B2 (and the UM of the other gateway scenarios): a bare rhea process that
 * consumes the UM queue and answers each CLIENT_EVENT with an EMIT of the same data to the
 * message's reply_to. Other UM messages (CLIENT_CONNECTED, CLIENT_DISCONNECTED) are accepted and
 * dropped. The B2 baseline uses this same process, so both paths pay for the same echo.
 *
 * env: ECHO_UM_QUEUE (queue name), ECHO_EVENT (event name of the EMIT).
 */
import type { Message, Sender } from 'rhea'
import { jsonBody, jsonMessage, openConnection } from '../lib/amqp.js'
import { failAndExit, onCommand, toParent } from '../lib/ipc.js'

const queue = process.env.ECHO_UM_QUEUE ?? 'bench-um'
const replyEvent = process.env.ECHO_EVENT ?? 'bench.reply'

async function main(): Promise<void> {
  const connection = await openConnection('bench-echo-um')
  // Per reply address: the sender, and what waits for its first credit.
  const senders = new Map<string, { sender: Sender; waiting: Message[] | undefined }>()
  let echoed = 0
  let other = 0

  const sendTo = (address: string, message: Message): void => {
    let entry = senders.get(address)
    if (!entry) {
      const sender = connection.open_sender({ target: { address } })
      const created = { sender, waiting: [] as Message[] | undefined }
      sender.once('sendable', () => {
        for (const m of created.waiting ?? []) sender.send(m)
        created.waiting = undefined
      })
      senders.set(address, created)
      entry = created
    }
    if (entry.waiting) entry.waiting.push(message)
    else entry.sender.send(message)
  }

  const receiver = connection.open_receiver({
    source: { address: `/queue/${queue}`, durable: 2 },
    credit_window: 500,
    autoaccept: true,
  })
  receiver.on('message', (ctx) => {
    const message = ctx.message as Message
    const body = jsonBody(message)
    if (body.type !== 'CLIENT_EVENT' || typeof message.reply_to !== 'string') {
      other++
      return
    }
    const emit = { type: 'EMIT', v: 1, sid: body.sid, event: replyEvent, data: body.data }
    sendTo(message.reply_to, jsonMessage(emit))
    echoed++
  })
  await new Promise<void>((resolve, reject) => {
    receiver.once('receiver_open', () => resolve())
    receiver.once('receiver_error', (ctx) => reject(ctx.receiver?.error ?? new Error('receiver_error')))
  })

  onCommand((command) => {
    if (command.type === 'stats') toParent({ type: 'stats', echoed, other })
    if (command.type === 'stop') {
      connection.close()
      setTimeout(() => process.exit(0), 200).unref()
    }
  })
  toParent({ type: 'ready' })
}

main().catch(failAndExit)
