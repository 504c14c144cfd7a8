import { decodeResult } from '@session-gateway/message-schema'
import type { CiBridge } from 'fastify-ci-bridge'

/** Where the check stands: not run yet, this node alone on its id, another process on it, or not possible. */
export type NodeIdCheck = 'pending' | 'unique' | 'conflict' | 'skipped'

/** PINGs sent: the broker spreads them over every consumer of the node queue, so 16 miss a second one with odds of 2^-16. */
export const NODE_ID_PINGS = 16

/**
 * Whether another running process consumes this node's queue (the same GATEWAY_NODE_ID). Two nodes
 * on one id share that queue, and CI messages for either's sessions reach the other about half the
 * time, which answers SESSION_NOT_FOUND: nothing else would show it. The check PINGs the node's own
 * address and looks at the `instance` of each RESULT.
 */
export async function checkNodeId(
  bridge: Pick<CiBridge, 'request' | 'nodeReplyTo'>,
  instance: string,
  timeoutMs: number,
): Promise<Exclude<NodeIdCheck, 'pending'>> {
  const answers = await Promise.allSettled(
    Array.from({ length: NODE_ID_PINGS }, () =>
      bridge.request(bridge.nodeReplyTo, { type: 'PING', v: 1 }, { timeoutMs }),
    ),
  )
  let answered = 0
  for (const answer of answers) {
    if (answer.status !== 'fulfilled') continue
    const result = decodeResult(answer.value.body)
    if (!result.ok || !result.message.ok) continue
    const other = (result.message.data as { instance?: unknown }).instance
    if (typeof other !== 'string') continue
    answered++
    if (other !== instance) return 'conflict'
  }
  return answered > 0 ? 'unique' : 'skipped'
}
