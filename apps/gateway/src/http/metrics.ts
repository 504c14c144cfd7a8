import type { SessionRegistry } from 'fastify-ws-sessions'
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client'
import type { Backend } from '../backend/types.js'
import { type ConnectionGuard, REFUSAL_REASONS, type RefusalReason } from '../connections/connection-guard.js'

/** What the parts of the gateway count as it runs; created before them, exported by `createMetrics`. */
export interface GatewayCounters {
  /** Counts a CI message handled by the dispatcher. */
  ciMessage(type: string, outcome: string): void
  /** Counts a client event forwarded to the User Manager by outcome (accepted, unavailable). */
  clientEvent(outcome: string): void
  /** Counts a connection refused or closed by a connection-level bound. */
  connectionRefused(reason: RefusalReason): void
}

export interface GatewayMetrics extends GatewayCounters {
  registry: Registry
}

/** What the metrics read at scrape time. */
export interface ObservedParts {
  sessions: SessionRegistry
  backend: Backend
  /** The WebSocket listener's connection bounds. */
  connections: ConnectionGuard
}

interface Counters extends GatewayCounters {
  /** In the order they are exported, not yet in a registry. */
  readonly ciMessages: Counter
  readonly clientEvents: Counter
  readonly connectionsRefused: Counter
}

/** The counters, before the parts they count exist (register them with `createMetrics`). */
export function createCounters(): Counters {
  const ciMessages = new Counter({
    name: 'gateway_ci_messages_total',
    help: 'CI messages handled, by type and outcome (ok, an error code, or not_here)',
    labelNames: ['type', 'outcome'],
    registers: [],
  })
  const clientEvents = new Counter({
    name: 'gateway_client_events_total',
    help: 'Client events forwarded to the User Manager, by outcome',
    labelNames: ['outcome'],
    registers: [],
  })
  const connectionsRefused = new Counter({
    name: 'gateway_connections_refused_total',
    help: 'TCP connections refused or closed before completing a request, by reason (headers_timeout, body_timeout, idle_timeout, max_connections, max_connections_evicted, per_address)',
    labelNames: ['reason'],
    registers: [],
  })
  for (const reason of REFUSAL_REASONS) connectionsRefused.inc({ reason }, 0)
  return {
    ciMessages,
    clientEvents,
    connectionsRefused,
    connectionRefused: (reason) => connectionsRefused.inc({ reason }),
    ciMessage: (type, outcome) => ciMessages.inc({ type, outcome }),
    clientEvent: (outcome) => clientEvents.inc({ outcome }),
  }
}

/** A counter whose value is read from a monotonic source at scrape time. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let last = 0
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read()
      if (now > last) this.inc(now - last)
      last = Math.max(last, now)
    },
  })
}

/** A labelled counter that mirrors, at scrape time, counts kept elsewhere (never going down). */
export function mirroredLabelledCounter(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  read: () => Record<string, number>,
): void {
  const last = new Map<string, number>()
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      for (const [key, now] of Object.entries(read())) {
        const before = last.get(key) ?? 0
        if (now > before) this.inc({ [label]: key }, now - before)
        last.set(key, Math.max(before, now))
      }
    },
  })
}

const BROKER_STATES = ['connecting', 'open', 'reconnecting', 'closed'] as const

/**
 * How often the `nodejs_eventloop_lag_*` histogram samples the event loop (prom-client's
 * `monitorEventLoopDelay` timer), in ms. Each sample wakes the process: at 20 ms an idle node woke
 * 50 times a second, about 0.004 cores on a 2-core VM (docs/PERFORMANCE.md, "B3: an idle node's own
 * wake-ups"). A stall longer than this is always seen; a shorter one in proportion to its length.
 */
export const LOOP_DELAY_RESOLUTION_MS = 100

/** The Prometheus metrics of one gateway node (its own registry, so several nodes can live in one process). */
export function createMetrics(nodeId: string, parts: ObservedParts, counters: Counters): GatewayMetrics {
  const registry = new Registry()
  registry.setDefaultLabels({ node: nodeId })
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: LOOP_DELAY_RESOLUTION_MS })
  sessionMetrics(registry, parts.sessions)
  brokerMetrics(registry, parts.backend)
  connectionMetrics(registry, parts.connections, counters)
  return {
    registry,
    connectionRefused: counters.connectionRefused,
    ciMessage: counters.ciMessage,
    clientEvent: counters.clientEvent,
  }
}

/** What the sessions plugin holds and counts: sessions, rooms, users, frames, upgrades, resume. */
function sessionMetrics(registry: Registry, sessions: SessionRegistry): void {
  new Gauge({
    name: 'gateway_sessions',
    help: 'WebSocket sessions on this node (live and, with resume on, detached)',
    registers: [registry],
    collect() {
      this.set(sessions.size)
    },
  })
  new Gauge({
    name: 'gateway_sessions_detached',
    help: 'Sessions without a connection waiting for their client to resume (included in gateway_sessions)',
    registers: [registry],
    collect() {
      this.set(sessions.detachedCount)
    },
  })
  new Gauge({
    name: 'gateway_replay_bytes',
    help: 'Characters of event frame text kept for replay by the sessions of this node',
    registers: [registry],
    collect() {
      this.set(sessions.replayBytes)
    },
  })
  mirroredCounter(
    registry,
    'gateway_sessions_resumed_total',
    'Sessions resumed on this node (same node, or taken over from another)',
    () => sessions.stats.sessionsResumed,
  )
  mirroredLabelledCounter(
    registry,
    'gateway_resume_refused_total',
    'Resume attempts that got a new session, by reason',
    'reason',
    () => sessions.stats.resumeRefused,
  )
  new Gauge({
    name: 'gateway_rooms',
    help: 'Rooms with at least one member on this node',
    registers: [registry],
    collect() {
      this.set(sessions.roomCount)
    },
  })
  mirroredCounter(
    registry,
    'gateway_sessions_opened_total',
    'Sessions opened',
    () => sessions.stats.sessionsOpened,
  )
  mirroredCounter(
    registry,
    'gateway_sessions_closed_total',
    'Sessions closed',
    () => sessions.stats.sessionsClosed,
  )
  mirroredCounter(
    registry,
    'gateway_frames_in_total',
    'Frames received from clients',
    () => sessions.stats.framesIn,
  )
  mirroredCounter(
    registry,
    'gateway_frames_out_total',
    'Frames sent to clients',
    () => sessions.stats.framesOut,
  )
  mirroredLabelledCounter(
    registry,
    'gateway_client_errors_total',
    'Error replies and frames sent to clients, by code',
    'code',
    () => sessions.stats.errorsByCode,
  )
  mirroredLabelledCounter(
    registry,
    'gateway_rejected_upgrades_total',
    'WebSocket upgrades refused, by reason (TOO_MANY_CLIENT_SESSIONS and CONNECT_RATE_LIMITED: the per-client limits)',
    'reason',
    () => sessions.stats.rejectedUpgrades,
  )
  new Gauge({
    name: 'gateway_client_keys',
    help: 'Clients (JWT sub or address) tracked by the per-client session limits',
    registers: [registry],
    collect() {
      this.set(sessions.clientKeys)
    },
  })
  new Gauge({
    name: 'gateway_users',
    help: 'Users (verified JWT sub) with at least one session on this node',
    registers: [registry],
    collect() {
      this.set(sessions.userCount)
    },
  })
}

/** The broker link: state, outbox, what it sent and settled, the node checks. */
function brokerMetrics(registry: Registry, backend: Backend): void {
  new Gauge({
    name: 'gateway_node_id_conflict',
    help: '1 when another running process uses this GATEWAY_NODE_ID (checked when the broker first connects)',
    registers: [registry],
    collect() {
      this.set(backend.nodeIdCheck === 'conflict' ? 1 : 0)
    },
  })
  new Gauge({
    name: 'gateway_broker_state',
    help: 'State of the broker link (1 for the current state)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const current = backend.state
      for (const state of BROKER_STATES) this.set({ state }, state === current ? 1 : 0)
    },
  })
  new Gauge({
    name: 'gateway_outbox_depth',
    help: 'Messages waiting for the broker (outbox and in flight)',
    registers: [registry],
    collect() {
      const s = backend.stats()
      this.set(s.outboxDepth + s.inFlight)
    },
  })
  mirroredCounter(
    registry,
    'gateway_broker_reconnects_total',
    'Reconnects to the broker',
    () => backend.stats().reconnects,
  )
  // Only what goes to the User Manager: RESULTs and the node's own PINGs have their own series.
  mirroredCounter(
    registry,
    'gateway_um_messages_sent_total',
    'Messages sent to the User Manager (CLIENT_* and node messages)',
    () => backend.stats().sent,
  )
  mirroredCounter(
    registry,
    'gateway_um_messages_accepted_total',
    'Messages to the User Manager the broker accepted',
    () => backend.stats().accepted,
  )
  mirroredCounter(
    registry,
    'gateway_um_messages_rejected_total',
    'Messages to the User Manager sent but not accepted (refused by the broker, timed out, closing)',
    () => backend.stats().rejected,
  )
  mirroredLabelledCounter(
    registry,
    'gateway_results_total',
    'RESULTs sent to CI reply addresses, by outcome (accepted: the broker took it; failed: it could not be sent, see the "RESULT not sent" warning)',
    'outcome',
    () => backend.stats().results,
  )
  mirroredLabelledCounter(
    registry,
    'gateway_node_check_pings_total',
    'PINGs the node sent to its own reply address (node checks), by outcome (answered, unanswered)',
    'outcome',
    () => backend.stats().nodeCheckPings,
  )
  mirroredCounter(
    registry,
    'gateway_amqp_messages_sent_total',
    'Every message sent on the broker link, whatever its address',
    () => backend.stats().allSent,
  )
  new Gauge({
    name: 'gateway_node_address_unreachable',
    help: "1 while PINGs to this node's own reply address do not come back (NODE_ADDRESS / NODE_REPLY_TO reach nobody); /readyz says 503 then",
    registers: [registry],
    collect() {
      this.set(backend.nodeIdCheck === 'unreachable' ? 1 : 0)
    },
  })
  mirroredLabelledCounter(
    registry,
    'gateway_ci_settlements_total',
    'CI messages settled, by outcome',
    'outcome',
    () => backend.stats().settlements,
  )
}

/** The WebSocket listener's connections, and the counters the parts count into. */
function connectionMetrics(registry: Registry, connections: ConnectionGuard, counters: Counters): void {
  registry.registerMetric(counters.ciMessages)
  registry.registerMetric(counters.clientEvents)
  registry.registerMetric(counters.connectionsRefused)
  new Gauge({
    name: 'gateway_connections',
    help: 'Open TCP connections on the WebSocket listener (sessions included)',
    registers: [registry],
    collect() {
      this.set(connections.open)
    },
  })
  new Gauge({
    name: 'gateway_connections_pending',
    help: 'Connections on the WebSocket listener that have not completed their request',
    registers: [registry],
    collect() {
      this.set(connections.pending)
    },
  })
}
