import { randomUUID } from 'node:crypto'
import { decodeTakeoverMessage, type TakeoverRequest } from '@session-gateway/message-schema'
import rhea, { type Connection } from 'rhea'
import { BROKER } from './fake-user-manager.js'

export interface HeldRequest {
  request: TakeoverRequest
  replyTo: string | undefined
}

/**
 * Plays a gateway node that never answers on its takeover address (a bare rhea client): it takes
 * every TAKEOVER_REQUEST sent to `/queue/<address>` and keeps it, so that a test can let the
 * requester time out, then answer late with `answer()`.
 */
export class TakeoverPeer {
  readonly held: HeldRequest[] = []
  #waiters: Array<() => void> = []
  readonly #connection: Connection

  private constructor(connection: Connection) {
    this.#connection = connection
  }

  static async start(queue: string): Promise<TakeoverPeer> {
    const container = rhea.create_container({ id: `takeover-peer-${randomUUID()}` })
    const connection = container.connect({ ...BROKER, reconnect: false })
    const peer = new TakeoverPeer(connection)
    connection.on('disconnected', () => {})
    const receiver = connection.open_receiver({ source: { address: `/queue/${queue}` } })
    receiver.on('message', (ctx) => {
      const body = ctx.message.body as { content?: Buffer } | string
      const decoded = decodeTakeoverMessage(typeof body === 'string' ? body : body.content)
      if (decoded.ok && decoded.message.type === 'TAKEOVER_REQUEST') {
        peer.held.push({ request: decoded.message, replyTo: ctx.message.reply_to })
        for (const wake of peer.#waiters.splice(0)) wake()
      }
    })
    await new Promise<void>((resolve, reject) => {
      receiver.once('receiver_open', () => resolve())
      connection.once('connection_error', reject)
    })
    return peer
  }

  /** Resolves with the next held request (the first one not yet taken). */
  async nextRequest(timeoutMs = 5000): Promise<HeldRequest> {
    const deadline = Date.now() + timeoutMs
    while (this.held.length === 0) {
      if (Date.now() > deadline) throw new Error('timed out waiting for a TAKEOVER_REQUEST')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
        this.#waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return this.held.shift() as HeldRequest
  }

  /** Sends `body` (JSON, in a data section) to `address`; resolves once the broker accepted it. */
  send(address: string, body: object): Promise<void> {
    return new Promise((resolve, reject) => {
      const sender = this.#connection.open_sender({ target: { address } })
      sender.once('sendable', () => {
        const delivery = sender.send({
          body: rhea.message.data_section(Buffer.from(JSON.stringify(body))),
          content_type: 'application/json',
          message_id: randomUUID(),
        })
        void delivery
      })
      sender.once('accepted', () => {
        sender.close()
        resolve()
      })
      sender.once('rejected', (ctx) =>
        reject(new Error(`rejected: ${JSON.stringify(ctx.delivery.remote_state)}`)),
      )
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#connection.once('connection_close', () => resolve())
      this.#connection.once('disconnected', () => resolve())
      this.#connection.close()
    })
  }
}
