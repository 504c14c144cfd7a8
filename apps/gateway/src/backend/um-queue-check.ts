import amqp from 'amqplib'

export type UmQueueType = 'quorum' | 'classic'

/** Where the check stands: `ok`, not run yet (`pending`: no broker reached), or what is wrong. */
export type UmQueueCheck =
  | { state: 'pending'; lastError?: string }
  | { state: 'ok' }
  | { state: 'wrong'; problem: string }

const CONNECT_TIMEOUT_MS = 5000

/**
 * Makes sure the User Manager queue is of the configured type: declares it durable with
 * `x-queue-type` over AMQP 0-9-1 (the 3.x AMQP 1.0 plugin cannot say a queue's type). The broker
 * creates a missing queue with that type and refuses (PRECONDITION_FAILED, "inequivalent arg
 * 'x-queue-type'") when the queue exists with another: that refusal is the check. Tries the URLs in
 * turn; `pending` when none answered.
 */
export async function checkUmQueue(
  urls: readonly string[],
  queue: string,
  type: UmQueueType,
): Promise<UmQueueCheck> {
  let lastError: string | undefined
  for (const url of urls) {
    let connection: amqp.ChannelModel
    try {
      connection = await amqp.connect(url, { timeout: CONNECT_TIMEOUT_MS })
    } catch {
      continue // this node is away: the next one
    }
    connection.on('error', () => {})
    try {
      const channel = await connection.createChannel()
      channel.on('error', () => {})
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': type } })
      return { state: 'ok' }
    } catch (error) {
      const code = (error as { code?: unknown }).code
      const text = (error as Error).message
      if (code === 406 || /inequivalent arg/.test(text)) {
        return { state: 'wrong', problem: mismatch(queue, type, text) }
      }
      lastError = text // a node going away mid-check, a refused permission: try the next, and later again
    } finally {
      await connection.close().catch(() => {})
    }
  }
  return lastError === undefined ? { state: 'pending' } : { state: 'pending', lastError }
}

/** The refusal, said plainly: which type the queue has (a queue declared without one is classic). */
function mismatch(queue: string, type: UmQueueType, text: string): string {
  const current =
    /current is (?:the value )?'(\w+)'/.exec(text)?.[1] ??
    (/current is none/.test(text) ? 'classic' : undefined)
  const reason = /"([^"]+)"/.exec(text)?.[1] ?? text
  return `the User Manager queue '${queue}' is ${current ? `a ${current} queue` : 'not of the configured type'}, but UM_QUEUE_TYPE=${type} (broker: ${reason}); see README "Running on a RabbitMQ cluster"`
}
