import type { FastifyRequest } from 'fastify'
import { type ResolvedResume, resolveResume } from './resume/resume-options.js'
import type { DetachHook, ResumeHook } from './resume/types.js'
import type {
  ConnectRateOptions,
  EventHandler,
  RateLimitOptions,
  Session,
  UserClaims,
  WsSessionsOptions,
} from './types.js'

/** Options after validation, with every default applied. */
export interface ResolvedOptions {
  path: string
  maxPayload: number
  maxSessions: number
  maxBadFrames: number
  rateLimit: RateLimitOptions | false
  maxRoomsPerSession: number
  maxBufferedBytes: number
  heartbeatIntervalMs: number
  allowedOrigins: ReadonlySet<string> | undefined
  authenticate:
    | ((request: FastifyRequest) => Promise<UserClaims | undefined> | UserClaims | undefined)
    | undefined
  onConnect: ((session: Session) => void | Promise<void>) | undefined
  onDisconnect: ((session: Session, code: number, reason: string) => void | Promise<void>) | undefined
  onDetach: DetachHook | undefined
  onResume: ResumeHook | undefined
  /** Undefined when resume is off. */
  resume: ResolvedResume | undefined
  onEvent: EventHandler | undefined
  /** The user's own key when not given: `user:<userId>`, else `ip:<request.ip>`. */
  clientKey: ((request: FastifyRequest, user: UserClaims | undefined) => string) | undefined
  userId: (claims: UserClaims) => unknown
  maxSessionsPerClient: number
  connectRate: ConnectRateOptions | false
  addressConnectRate: ConnectRateOptions | false
  maxClientKeys: number
  maxDepth: number
  closeTimeoutMs: number
}

export const DEFAULTS = {
  path: '/ws',
  maxPayload: 1_048_576,
  maxSessions: 10_000,
  maxBadFrames: 10,
  rateLimit: { ratePerSec: 100, burst: 200, maxViolations: 50 },
  maxRoomsPerSession: 100,
  maxBufferedBytes: 4 * 1_048_576,
  heartbeatIntervalMs: 30_000,
  maxSessionsPerClient: 0,
  connectRate: false,
  addressConnectRate: false,
  maxClientKeys: 100_000,
  maxDepth: 64,
  closeTimeoutMs: 2000,
} as const

/** The default `userId`: the claims' `sub` when it is a non-empty string. */
export function defaultUserId(claims: UserClaims): string | undefined {
  const sub = claims.sub
  return typeof sub === 'string' && sub.length > 0 ? sub : undefined
}

/** The client key of a session: its user (`user:<id>`) when it has one, else its address (`ip:<request.ip>`). */
export function clientKeyOf(request: FastifyRequest, userId: string | undefined): string {
  return userId !== undefined ? `user:${userId}` : `ip:${request.ip}`
}

/** The default `clientKey`: the verified user's `sub`, else the address (`request.ip`, so `trustProxy` applies). */
export function defaultClientKey(request: FastifyRequest, user: UserClaims | undefined): string {
  return clientKeyOf(request, user ? defaultUserId(user) : undefined)
}

const KNOWN_OPTIONS = new Set<string>([
  'path',
  'maxPayload',
  'maxSessions',
  'maxBadFrames',
  'rateLimit',
  'maxRoomsPerSession',
  'maxBufferedBytes',
  'heartbeatIntervalMs',
  'allowedOrigins',
  'authenticate',
  'onConnect',
  'onDisconnect',
  'onDetach',
  'onResume',
  'resume',
  'onEvent',
  'clientKey',
  'userId',
  'maxSessionsPerClient',
  'connectRate',
  'addressConnectRate',
  'maxClientKeys',
  'maxDepth',
  'closeTimeoutMs',
  // Fastify's own registration options may reach the plugin.
  'prefix',
  'logLevel',
  'logSerializers',
])

const PREFIX = 'fastify-ws-sessions:'
/** Largest delay a Node.js timer accepts. */
const MAX_TIMER_MS = 2_147_483_647

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (Array.isArray(value)) return 'an array'
  if (value === null) return 'null'
  if (typeof value === 'object') return 'an object'
  return String(value)
}

function fail(name: string, rule: string, value: unknown): never {
  throw new TypeError(`${PREFIX} option "${name}" must be ${rule} (got ${show(value)})`)
}

function integer(name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const rule =
      max === Number.MAX_SAFE_INTEGER
        ? min === 0
          ? 'a non-negative integer'
          : `an integer >= ${min}`
        : `an integer from ${min} to ${max}`
    fail(name, rule, value)
  }
  return value
}

function optionalFunction<T>(name: string, value: unknown): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') fail(name, 'a function', value)
  return value as T
}

function rateLimitOption(value: unknown): RateLimitOptions | false {
  if (value === undefined) return { ...DEFAULTS.rateLimit }
  if (value === false) return false
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('rateLimit', 'false or { ratePerSec, burst, maxViolations }', value)
  }
  const { ratePerSec, burst, maxViolations, ...rest } = value as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) {
    throw new TypeError(`${PREFIX} option "rateLimit" has an unknown field "${unknown}"`)
  }
  if (typeof ratePerSec !== 'number' || !Number.isFinite(ratePerSec) || ratePerSec <= 0) {
    fail('rateLimit.ratePerSec', 'a positive number', ratePerSec)
  }
  return {
    ratePerSec,
    burst: integer('rateLimit.burst', burst, DEFAULTS.rateLimit.burst, 1),
    maxViolations: integer('rateLimit.maxViolations', maxViolations, DEFAULTS.rateLimit.maxViolations, 0),
  }
}

function connectRateOption(name: string, value: unknown): ConnectRateOptions | false {
  if (value === undefined || value === false) return false
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(name, 'false or { perSec, burst }', value)
  }
  const { perSec, burst, ...rest } = value as Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) {
    throw new TypeError(`${PREFIX} option "${name}" has an unknown field "${unknown}"`)
  }
  if (typeof perSec !== 'number' || !Number.isFinite(perSec) || perSec <= 0) {
    fail(`${name}.perSec`, 'a positive number', perSec)
  }
  if (burst === undefined) fail(`${name}.burst`, 'an integer >= 1', burst)
  return { perSec, burst: integer(`${name}.burst`, burst, 1, 1) }
}

function originsOption(value: unknown): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.some((o) => typeof o !== 'string' || o.length === 0)) {
    fail('allowedOrigins', 'an array of non-empty strings', value)
  }
  return new Set(value as string[])
}

/** Validates the plugin options and applies the defaults. Throws a TypeError naming the first bad option. */
export function resolveOptions(input: WsSessionsOptions | undefined): ResolvedOptions {
  const raw: unknown = input ?? {}
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TypeError(`${PREFIX} options must be an object`)
  }
  const opts = raw as Record<string, unknown>
  for (const key of Object.keys(opts)) {
    if (!KNOWN_OPTIONS.has(key)) throw new TypeError(`${PREFIX} unknown option "${key}"`)
  }
  const path = opts.path ?? DEFAULTS.path
  if (typeof path !== 'string' || !path.startsWith('/')) fail('path', 'a string starting with "/"', path)
  return {
    path,
    maxPayload: integer('maxPayload', opts.maxPayload, DEFAULTS.maxPayload, 1),
    maxSessions: integer('maxSessions', opts.maxSessions, DEFAULTS.maxSessions, 1),
    maxBadFrames: integer('maxBadFrames', opts.maxBadFrames, DEFAULTS.maxBadFrames, 0),
    rateLimit: rateLimitOption(opts.rateLimit),
    maxRoomsPerSession: integer(
      'maxRoomsPerSession',
      opts.maxRoomsPerSession,
      DEFAULTS.maxRoomsPerSession,
      0,
    ),
    maxBufferedBytes: integer('maxBufferedBytes', opts.maxBufferedBytes, DEFAULTS.maxBufferedBytes, 1),
    heartbeatIntervalMs: integer(
      'heartbeatIntervalMs',
      opts.heartbeatIntervalMs,
      DEFAULTS.heartbeatIntervalMs,
      0,
      MAX_TIMER_MS,
    ),
    allowedOrigins: originsOption(opts.allowedOrigins),
    authenticate: optionalFunction('authenticate', opts.authenticate),
    onConnect: optionalFunction('onConnect', opts.onConnect),
    onDisconnect: optionalFunction('onDisconnect', opts.onDisconnect),
    onDetach: optionalFunction('onDetach', opts.onDetach),
    onResume: optionalFunction('onResume', opts.onResume),
    resume: resolveResume(opts.resume),
    onEvent: optionalFunction('onEvent', opts.onEvent),
    clientKey: optionalFunction('clientKey', opts.clientKey),
    userId: optionalFunction<(claims: UserClaims) => unknown>('userId', opts.userId) ?? defaultUserId,
    maxSessionsPerClient: integer(
      'maxSessionsPerClient',
      opts.maxSessionsPerClient,
      DEFAULTS.maxSessionsPerClient,
      0,
    ),
    connectRate: connectRateOption('connectRate', opts.connectRate),
    addressConnectRate: connectRateOption('addressConnectRate', opts.addressConnectRate),
    maxClientKeys: integer('maxClientKeys', opts.maxClientKeys, DEFAULTS.maxClientKeys, 1),
    maxDepth: integer('maxDepth', opts.maxDepth, DEFAULTS.maxDepth, 1),
    closeTimeoutMs: integer('closeTimeoutMs', opts.closeTimeoutMs, DEFAULTS.closeTimeoutMs, 1, MAX_TIMER_MS),
  }
}
