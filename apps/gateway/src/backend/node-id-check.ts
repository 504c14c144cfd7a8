import { decodeResult } from '@session-gateway/message-schema'
import { type CiBridge, hasBridgeErrorCode } from 'fastify-ci-bridge'

/**
 * Where the node check stands: not run yet, this node alone on its id, another process on it, the
 * node's own reply address does not reach it (no PING came back), or not possible (the broker
 * refused the PINGs).
 */
export type NodeIdCheck = 'pending' | 'unique' | 'conflict' | 'unreachable' | 'skipped'

/** PINGs sent: the broker spreads them over every consumer of the node queue, so 16 miss a second one with odds of 2^-16. */
export const NODE_ID_PINGS = 16

/** While the node's address does not reach it, one PING this often (the address may be created later). */
export const NODE_RECHECK_MS = 30_000

/**
 * Whether another running process consumes this node's queue (the same GATEWAY_NODE_ID), and
 * whether the node's reply address reaches it at all. Two nodes on one id share that queue, and CI
 * messages for either's sessions reach the other about half the time, which answers
 * SESSION_NOT_FOUND: nothing else would show it. A reply address that reaches nobody (a queue that
 * nobody declared) loses every CI message silently. The check PINGs the node's own address and looks
 * at the `instance` of each RESULT; a PING accepted by the broker whose RESULT does not come back
 * within `timeoutMs` means the address is unreachable (no more PINGs are sent then).
 */
export async function checkNodeId(
  bridge: Pick<CiBridge, 'request' | 'nodeReplyTo'>,
  instance: string,
  timeoutMs: number,
  options: { pings?: number; onPing?: (answered: boolean) => void } = {},
): Promise<Exclude<NodeIdCheck, 'pending'>> {
  let answered = 0
  // One at a time: the check never holds more than a PING and its RESULT in the outbox, whatever its
  // bound, and the broker still hands successive PINGs to successive consumers.
  for (let i = 0; i < (options.pings ?? NODE_ID_PINGS); i++) {
    let failure: unknown
    const answer = await bridge
      .request(bridge.nodeReplyTo, { type: 'PING', v: 1 }, { timeoutMs })
      .catch((error: unknown) => {
        failure = error
        return undefined
      })
    options.onPing?.(answer !== undefined)
    if (!answer) {
      // Accepted by the broker and never answered: the address does not lead back here.
      if (hasBridgeErrorCode(failure, 'TIMEOUT') && answered === 0) return 'unreachable'
      continue
    }
    const result = decodeResult(answer.body)
    if (!result.ok || !result.message.ok) continue
    const other = (result.message.data as { instance?: unknown }).instance
    if (typeof other !== 'string') continue
    answered++
    if (other !== instance) return 'conflict'
  }
  return answered > 0 ? 'unique' : 'skipped'
}
