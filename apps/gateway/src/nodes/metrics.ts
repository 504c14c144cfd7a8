import type { Registry } from 'prom-client'
import { mirroredLabelledCounter } from '../http/metrics.js'

/** What the node services count, read by the metrics at scrape time. */
export interface NodeCounts {
  /**
   * By event: requested, granted, refused, timeout, late (this node asking), handed-over (asked) and
   * followed (asked with a resume key of a session that moved on from here: sent on to its node).
   */
  takeovers: Record<string, number>
  /** CI messages for sessions that moved, by outcome: forwarded, failed. */
  forwarded: Record<string, number>
}

export function newNodeCounts(): NodeCounts {
  return { takeovers: {}, forwarded: {} }
}

export function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1
}

/** `gateway_takeovers_total{event}` and `gateway_forwarded_total{outcome}` on the node's registry. */
export function registerNodeMetrics(registry: Registry, counts: NodeCounts): void {
  mirroredLabelledCounter(
    registry,
    'gateway_takeovers_total',
    'Cross-node takeovers: requested, granted, refused, timeout, late (as the node a client came back to); handed-over (as the holder); followed (a resume key of a session that moved on: sent on to its node)',
    'event',
    () => counts.takeovers,
  )
  mirroredLabelledCounter(
    registry,
    'gateway_forwarded_total',
    'CI messages for sessions that moved to another node, sent on there (forwarded) or unanswered (failed)',
    'outcome',
    () => counts.forwarded,
  )
}
