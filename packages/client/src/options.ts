import { DEFAULT_RECONNECT, type ReconnectOptions } from './backoff.js'
import { type Clock, systemClock } from './clock.js'
import { globalWebSocket, type WebSocketConstructor } from './socket.js'

/** The JWT for the gateway (sent as `access_token`), or a function asked before every attempt. */
export type TokenSource = string | (() => string | undefined | Promise<string | undefined>)

export interface ClientOptions {
  /** JWT when the gateway has authentication on. A function is asked again before each attempt (refresh it there). */
  token?: TokenSource
  /** The WebSocket class (default `globalThis.WebSocket`; on Node 20 pass `ws`'s). */
  WebSocket?: WebSocketConstructor
  /** How long `request()` waits for its reply by default (10,000 ms). */
  requestTimeoutMs?: number
  /** How long one attempt may take until the session is known (10,000 ms); then it counts as failed. */
  connectTimeoutMs?: number
  /** Reconnect schedule (see `DEFAULT_RECONNECT`), or `false` for no reconnect at all. */
  reconnect?: Partial<ReconnectOptions> | false
  /** Resume the session after a drop when the gateway offers it (default true). */
  resume?: boolean
  /** Timers and time (tests inject a fake). */
  clock?: Clock
  /** Source of the backoff jitter, in [0, 1) (tests inject a fixed one). */
  random?: () => number
}

export interface ResolvedOptions {
  token: TokenSource | undefined
  WebSocket: WebSocketConstructor
  requestTimeoutMs: number
  connectTimeoutMs: number
  reconnect: ReconnectOptions | false
  resume: boolean
  clock: Clock
  random: () => number
}

const PREFIX = '@session-gateway/client:'

/** The longest timer delay runtimes keep (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647

function positive(name: string, value: number | undefined, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback
  const ok =
    typeof value === 'number' && value > 0 && (value <= MAX_TIMER_MS || (allowInfinity && value === Infinity))
  if (!ok) {
    const range = allowInfinity ? `> 0 (or Infinity)` : `from 1 to ${MAX_TIMER_MS}`
    throw new TypeError(`${PREFIX} option "${name}" must be a number ${range} (got ${String(value)})`)
  }
  return value
}

function resolveReconnect(value: ClientOptions['reconnect']): ReconnectOptions | false {
  if (value === false) return false
  const given = value ?? {}
  const known = new Set(Object.keys(DEFAULT_RECONNECT))
  for (const key of Object.keys(given)) {
    if (!known.has(key)) throw new TypeError(`${PREFIX} unknown option "reconnect.${key}"`)
  }
  const d = DEFAULT_RECONNECT
  const initialDelayMs = positive('reconnect.initialDelayMs', given.initialDelayMs, d.initialDelayMs)
  const maxDelayMs = positive(
    'reconnect.maxDelayMs',
    given.maxDelayMs,
    Math.max(d.maxDelayMs, initialDelayMs),
  )
  if (maxDelayMs < initialDelayMs) {
    throw new TypeError(
      `${PREFIX} option "reconnect.maxDelayMs" (${maxDelayMs}) must be >= "reconnect.initialDelayMs" (${initialDelayMs})`,
    )
  }
  const factor = positive('reconnect.factor', given.factor, d.factor)
  if (factor < 1) throw new TypeError(`${PREFIX} option "reconnect.factor" must be >= 1 (got ${factor})`)
  const maxAttempts = positive('reconnect.maxAttempts', given.maxAttempts, d.maxAttempts, true)
  if (Number.isFinite(maxAttempts) && !Number.isInteger(maxAttempts)) {
    throw new TypeError(`${PREFIX} option "reconnect.maxAttempts" must be a whole number or Infinity`)
  }
  const stableAfterMs = positive('reconnect.stableAfterMs', given.stableAfterMs, d.stableAfterMs)
  return { initialDelayMs, maxDelayMs, factor, maxAttempts, stableAfterMs }
}

/** Checks every option once, with a message naming it, and fills in the defaults. */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  const WebSocket = options.WebSocket ?? globalWebSocket()
  if (typeof WebSocket !== 'function') {
    throw new TypeError(
      `${PREFIX} this runtime has no global WebSocket (Node 20): pass one, e.g. connect(url, { WebSocket }) with \`import WebSocket from 'ws'\``,
    )
  }
  const token = options.token
  if (token !== undefined && typeof token !== 'string' && typeof token !== 'function') {
    throw new TypeError(`${PREFIX} option "token" must be a string or a function`)
  }
  return {
    token,
    WebSocket,
    requestTimeoutMs: positive('requestTimeoutMs', options.requestTimeoutMs, 10_000),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 10_000),
    reconnect: resolveReconnect(options.reconnect),
    resume: options.resume ?? true,
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
  }
}
