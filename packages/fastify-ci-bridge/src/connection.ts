import { Socket } from 'node:net'
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import rhea, { type Connection, type ConnectionOptions, type Container, type EventContext } from 'rhea'
import { Backoff } from './backoff.js'
import type { BrokerEndpoint } from './options.js'
import type { Timers } from './timers.js'
import type { BridgeLogger } from './types.js'
import { batchSocketWrites, type WriteBatching } from './write-batching.js'

export interface ConnectionSettings {
  /** Tried in turn: every attempt (after a failed one or a lost connection) takes the next. */
  endpoints: readonly BrokerEndpoint[]
  containerId: string
  tls: TlsConnectionOptions | undefined
  initialDelayMs: number
  maxDelayMs: number
  connectTimeoutMs: number
  timers: Timers
}

export interface ConnectionHooks {
  /** A connection is open: (re-)create every link on it. */
  onOpen(connection: Connection): void
  /** The open connection is gone: every link on it is dead. */
  onLost(error: Error | undefined): void
}

/** What the bridge reads of rhea's connection beyond its typings. */
interface ConnectionInternals {
  socket?: { setNoDelay?: (noDelay?: boolean) => unknown; destroyed?: boolean }
  abort_socket?: (socket: unknown) => void
  heartbeat_in?: NodeJS.Timeout
  heartbeat_out?: NodeJS.Timeout
  abort_idle?: NodeJS.Timeout
}

/** Heartbeats: the broker is asked to send a frame at least every 15 s; 60 s of silence drops the link. */
const IDLE_TIME_OUT_MS = 30_000
const ATTEMPT_WARNING_INTERVAL_MS = 10_000

/** The reason of a failed attempt, with what to do when the broker said what is wrong. */
function explain(reason: string, error: Error | undefined): string {
  const condition =
    (error as { condition?: unknown; code?: unknown } | undefined)?.condition ??
    (error as { code?: unknown } | undefined)?.code
  if (condition === 'amqp:unauthorized-access') {
    return 'authentication failed: check the user and password in the URL'
  }
  return reason
}

function asError(value: unknown): Error | undefined {
  if (value instanceof Error) return value
  if (value === undefined || value === null) return undefined
  return new Error(String(value))
}

/**
 * Owns the AMQP connection. rhea's own reconnect is off: it re-attaches no links after a broker
 * `stop_app` (docs/RABBITMQ.md, "Reconnects"), and it has no list of hosts. Every attempt is a fresh rhea connection,
 * so that sessions and links are always created anew by the bridge; attempts are spaced by
 * exponential backoff with full jitter, and each takes the next broker URL of the list (a cluster's
 * nodes): the one that just failed or was lost is the last to be tried again.
 */
export class ConnectionManager {
  readonly #settings: ConnectionSettings
  readonly #hooks: ConnectionHooks
  readonly #log: BridgeLogger
  readonly #timers: Timers
  readonly #container: Container
  readonly #backoff: Backoff
  #current: Connection | undefined
  #openConnection: Connection | undefined
  /** The write batching of the open connection's socket (see write-batching.ts). */
  #writes: WriteBatching | undefined
  #reconnectTimer: NodeJS.Timeout | undefined
  #connectTimer: NodeJS.Timeout | undefined
  #stopped = false
  #lastAttemptWarning = 0
  /** Index in `settings.endpoints` of the current (or next) attempt. */
  #endpointIndex = 0
  /** The endpoint of the open connection. */
  #openEndpoint: BrokerEndpoint | undefined
  /** Endpoints that failed since the last open connection was lost (undefined: none lost). */
  #failedSinceLoss: Set<number> | undefined
  /** When a connection opened after a loss, while its links are not all attached again. */
  #reopenedAt: number | undefined

  constructor(settings: ConnectionSettings, hooks: ConnectionHooks, log: BridgeLogger) {
    this.#settings = settings
    this.#hooks = hooks
    this.#log = log
    this.#timers = settings.timers
    this.#backoff = new Backoff(settings.initialDelayMs, settings.maxDelayMs)
    this.#container = rhea.create_container({ id: settings.containerId })
    // rhea emits unhandled session and link errors on the container: never let them crash the process.
    this.#container.on('error', (error: unknown) => {
      this.#log.warn({ err: asError(error) }, 'amqp: unhandled error event')
    })
  }

  /** The connection while it is open. */
  get connection(): Connection | undefined {
    return this.#openConnection
  }

  /** Holds the open connection's writes for up to `ms`, so the next turns' frames join them. */
  lingerWrites(ms: number): void {
    if (this.#openConnection !== undefined) this.#writes?.linger(ms)
  }

  /** The URL (password masked) of the open connection. */
  get connectedUrl(): string | undefined {
    return this.#openConnection ? this.#openEndpoint?.safeUrl : undefined
  }

  /**
   * An open connection was lost and some other URL has not failed since, or the next node's
   * connection is open and its links are being attached again (for up to `connectTimeoutMs`): a
   * failover, not an outage.
   */
  get failingOver(): boolean {
    const failed = this.#failedSinceLoss
    if (this.#stopped || failed === undefined || this.#settings.endpoints.length < 2) return false
    if (this.#reopenedAt !== undefined) return Date.now() - this.#reopenedAt < this.#settings.connectTimeoutMs
    return failed.size < this.#settings.endpoints.length
  }

  /** Every link is attached again on the open connection: the failover (if any) is over. */
  linksReady(): void {
    if (!this.#openConnection) return
    this.#failedSinceLoss = undefined
    this.#reopenedAt = undefined
  }

  start(): void {
    this.#connect()
  }

  #connect(): void {
    this.#reconnectTimer = undefined
    if (this.#stopped) return
    const settings = this.#settings
    const index = this.#endpointIndex % settings.endpoints.length
    const endpoint = settings.endpoints[index] as BrokerEndpoint
    const options = {
      host: endpoint.host,
      port: endpoint.port,
      transport: endpoint.transport,
      username: endpoint.username,
      password: endpoint.password,
      container_id: settings.containerId,
      reconnect: false,
      tcp_no_delay: true,
      idle_time_out: IDLE_TIME_OUT_MS,
      ...(endpoint.vhost === undefined ? {} : { hostname: `vhost:${endpoint.vhost}` }),
      ...(endpoint.transport === 'tls' ? { servername: endpoint.host, ...settings.tls } : {}),
    } as ConnectionOptions
    let connection: Connection
    try {
      connection = this.#container.connect(options)
    } catch (error) {
      this.#log.error({ err: asError(error), url: endpoint.safeUrl }, 'amqp: cannot start a connection')
      this.#attemptFailed(index)
      this.#scheduleReconnect()
      return
    }
    this.#current = connection
    const isCurrent = () => this.#current === connection && !this.#stopped

    connection.on('connection_open', () => {
      if (!isCurrent()) return
      this.#timers.clear(this.#connectTimer)
      // Nagle adds ~40 ms per hop on links of explicitly created sessions (docs/RABBITMQ.md, "Latency: Nagle").
      const socket = (connection as ConnectionInternals).socket
      socket?.setNoDelay?.(true)
      this.#writes = socket instanceof Socket ? batchSocketWrites(socket) : undefined
      this.#backoff.reset()
      this.#openConnection = connection
      this.#openEndpoint = endpoint
      // After a loss the failover lasts until the links are attached again (linksReady).
      if (this.#failedSinceLoss !== undefined) this.#reopenedAt = Date.now()
      this.#log.info({ url: endpoint.safeUrl }, 'amqp: connection open')
      this.#hooks.onOpen(connection)
    })
    const onLost = (reason: string) => (context: EventContext | Error | undefined) => {
      if (!isCurrent()) return
      const error = context instanceof Error ? context : asError(context?.error ?? context?.connection?.error)
      this.#drop(connection, endpoint, index, reason, error)
    }
    connection.on('connection_close', onLost('connection closed by the broker'))
    connection.on('connection_error', onLost('connection error'))
    connection.on('disconnected', onLost('disconnected'))
    connection.on('protocol_error', onLost('protocol error'))
    connection.on('error', onLost('error'))

    this.#timers.clear(this.#connectTimer)
    this.#connectTimer = this.#timers.timeout(() => {
      if (isCurrent() && this.#openConnection !== connection) {
        this.#drop(
          connection,
          endpoint,
          index,
          'connect timeout',
          new Error(`no AMQP open within ${settings.connectTimeoutMs} ms`),
        )
      }
    }, settings.connectTimeoutMs)
  }

  /** An attempt on endpoint `index` failed: the next attempt takes the next endpoint. */
  #attemptFailed(index: number): void {
    this.#failedSinceLoss?.add(index)
    this.#endpointIndex = index + 1
  }

  #drop(
    connection: Connection,
    endpoint: BrokerEndpoint,
    index: number,
    reason: string,
    error: Error | undefined,
  ): void {
    const wasOpen = this.#openConnection === connection
    this.#current = undefined
    this.#openConnection = undefined
    this.#openEndpoint = undefined
    if (wasOpen) {
      this.#failedSinceLoss = new Set()
      this.#reopenedAt = undefined
    }
    this.#attemptFailed(index)
    this.#timers.clear(this.#connectTimer)
    abort(connection)
    // A lost connection is always worth a warning; failed attempts (broker away, bad credentials,
    // untrusted certificate) at most one every 10 s, the rest at debug.
    const now = Date.now()
    const warn = wasOpen || now - this.#lastAttemptWarning >= ATTEMPT_WARNING_INTERVAL_MS
    if (warn && !wasOpen) this.#lastAttemptWarning = now
    this.#log[warn ? 'warn' : 'debug'](
      { err: error, url: endpoint.safeUrl },
      wasOpen ? `amqp: ${reason}` : `amqp: connection attempt failed (${explain(reason, error)})`,
    )
    if (wasOpen) this.#hooks.onLost(error)
    this.#scheduleReconnect()
  }

  #scheduleReconnect(): void {
    if (this.#stopped || this.#reconnectTimer) return
    const delay = this.#backoff.next()
    this.#reconnectTimer = this.#timers.timeout(() => this.#connect(), delay)
  }

  /** Closes the connection (AMQP close, bounded by `timeoutMs`, then the socket is dropped). */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopped = true
    this.#timers.clear(this.#reconnectTimer)
    this.#timers.clear(this.#connectTimer)
    this.#reconnectTimer = undefined
    const connection = this.#current
    const wasOpen = this.#openConnection === connection
    this.#current = undefined
    this.#openConnection = undefined
    this.#openEndpoint = undefined
    this.#failedSinceLoss = undefined
    this.#reopenedAt = undefined
    if (!connection) return
    if (!wasOpen) {
      abort(connection)
      return
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#timers.clear(timer)
        connection.removeListener('connection_close', done)
        connection.removeListener('disconnected', done)
        resolve()
      }
      const timer = this.#timers.timeout(done, timeoutMs)
      connection.on('connection_close', done)
      connection.on('disconnected', done)
      try {
        connection.close()
      } catch {
        done()
      }
    })
    abort(connection)
  }
}

/**
 * Drops the socket of a connection the bridge no longer uses, and its heartbeat timers. Done again
 * on the next turn of the event loop: when the drop happens inside rhea's frame handling (a SASL
 * failure, say), rhea re-arms its 60 s idle timer after the handler returns, which would hold the
 * process open.
 */
function abort(connection: Connection): void {
  dropSocket(connection)
  setImmediate(() => dropSocket(connection)).unref()
}

function dropSocket(connection: Connection): void {
  const internals = connection as ConnectionInternals
  try {
    if (internals.socket && !internals.socket.destroyed) internals.abort_socket?.(internals.socket)
  } catch {
    // the socket is already gone
  }
  for (const timer of [internals.heartbeat_in, internals.heartbeat_out, internals.abort_idle])
    clearTimeout(timer)
  internals.heartbeat_in = undefined
  internals.heartbeat_out = undefined
  internals.abort_idle = undefined
}
