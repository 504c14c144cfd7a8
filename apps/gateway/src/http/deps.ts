import type { SessionRegistry } from 'fastify-ws-sessions'
import type { Backend } from '../backend/types.js'
import type { GatewayMetrics } from './metrics.js'

/** What the HTTP API reads; shared by the main listener and the separate API listener. */
export interface ApiDeps {
  sessions: SessionRegistry
  backend: Backend
  metrics: GatewayMetrics
  nodeId: string
  startedAt: number
  /** True from the first shutdown signal on. */
  isShuttingDown: () => boolean
  adminToken?: string | undefined
  /** Why the node is not ready besides the broker (e.g. its takeover address not attached yet). */
  problem?: () => string | undefined
}
