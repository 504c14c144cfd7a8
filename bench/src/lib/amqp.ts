import { randomUUID } from 'node:crypto'
import rhea, { type Connection, type Message, type Sender } from 'rhea'
import { AMQP } from './rabbitmq.js'

const DATA_SECTION = 0x75

/** Opens a rhea connection to the bench broker with Nagle off (docs/RABBITMQ.md, "Latency: Nagle": +40 ms per hop otherwise). */
export async function openConnection(id: string): Promise<Connection> {
  const container = rhea.create_container({ id: `${id}-${randomUUID()}` })
  container.on('error', () => {})
  const connection = container.connect({
    ...AMQP,
    reconnect: false,
    tcp_no_delay: true,
  } as rhea.ConnectionOptions)
  await new Promise<void>((resolve, reject) => {
    connection.once('connection_open', () => resolve())
    connection.once('connection_error', (ctx) => reject(ctx.error ?? new Error('connection_error')))
    connection.once('disconnected', (ctx) => reject(ctx.error ?? new Error('disconnected')))
  })
  const socket = (connection as unknown as { socket?: { setNoDelay?: (on: boolean) => void } }).socket
  socket?.setNoDelay?.(true)
  connection.on('disconnected', () => {})
  return connection
}

/** A JSON body as the gateway's bridge sends it: one data section, content_type, subject, message_id. */
export function jsonMessage(
  body: { type: string } & Record<string, unknown>,
  extra: Partial<Message> = {},
): Message {
  return {
    body: rhea.message.data_section(Buffer.from(JSON.stringify(body), 'utf8')),
    content_type: 'application/json',
    subject: body.type,
    message_id: randomUUID(),
    ...extra,
  }
}

/** The JSON body of a received message (data section or amqp-value). */
export function jsonBody(message: Message): Record<string, unknown> {
  const body = message.body as { typecode?: number; content?: unknown } | string | Buffer | undefined
  if (body && typeof body === 'object' && 'typecode' in body && body.typecode === DATA_SECTION) {
    return JSON.parse((body.content as Buffer).toString('utf8')) as Record<string, unknown>
  }
  if (typeof body === 'string') return JSON.parse(body) as Record<string, unknown>
  if (Buffer.isBuffer(body)) return JSON.parse(body.toString('utf8')) as Record<string, unknown>
  return body as unknown as Record<string, unknown>
}

/** Resolves once the sender is attached (sendable or not). */
export function senderOpen(sender: Sender): Promise<void> {
  return new Promise((resolve, reject) => {
    sender.once('sender_open', () => resolve())
    sender.once('sender_error', (ctx) => reject(ctx.sender?.error ?? new Error('sender_error')))
  })
}
