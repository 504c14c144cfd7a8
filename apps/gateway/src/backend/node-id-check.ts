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
  let answered = 0
  // One at a time: the check never holds more than a PING and its RESULT in the outbox, whatever its
  // bound, and the broker still hands successive PINGs to successive consumers.
  for (let i = 0; i < NODE_ID_PINGS; i++) {
    const answer = await bridge
      .request(bridge.nodeReplyTo, { type: 'PING', v: 1 }, { timeoutMs })
      .catch(() => undefined)
    if (!answer) continue
    const result = decodeResult(answer.body)
    if (!result.ok || !result.message.ok) continue
    const other = (result.message.data as { instance?: unknown }).instance
    if (typeof other !== 'string') continue
    answered++
    if (other !== instance) return 'conflict'
  }
  return answered > 0 ? 'unique' : 'skipped'
}
