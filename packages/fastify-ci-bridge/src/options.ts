import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls'
import {
  type AddressOverrides,
  type BridgeAddresses,
  DEFAULT_QUEUE_PREFIX,
  queuePrefixProblem,
  rabbitmqReplyAddress,
  resolveAddresses,
} from './addresses.js'
import type { BrokerProfile, CiBridgeOptions, OnMessageHandler } from './types.js'

export const DEFAULTS = {
  profile: 'rabbitmq',
  initialDelayMs: 100,
  maxDelayMs: 5000,
  outboxLimit: 10_000,
  sendTimeoutMs: 10_000,
  credit: 100,
  dedupeWindow: 10_000,
  closeTimeoutMs: 5000,
  connectTimeoutMs: 10_000,
  maxCachedSenders: 64,
  maxDepth: 64,
  queuePrefix: DEFAULT_QUEUE_PREFIX,
} as const

/** Above this, one receiver's unsettled deliveries could overflow rhea's session buffer (2048). */
export const MAX_CREDIT = 1000

/** One broker address of `url`. */
export interface BrokerEndpoint {
  host: string
  port: number
  transport: 'tcp' | 'tls'
  username: string
  password: string
  /** The URL without its password, for logs. */
  safeUrl: string
  vhost: string | undefined
}

export interface ResolvedOptions extends BridgeAddresses {
  /** The broker addresses, in the order they are tried (one, or the nodes of a cluster). */
  endpoints: BrokerEndpoint[]
  /** The vhost every endpoint names (they must agree). */
  vhost: string | undefined
  nodeId: string
  containerId: string
  profile: BrokerProfile
  tls: TlsConnectionOptions | undefined
  initialDelayMs: number
  maxDelayMs: number
  outboxLimit: number
  sendTimeoutMs: number
  credit: number
  dedupeWindow: number
  closeTimeoutMs: number
  connectTimeoutMs: number
  maxCachedSenders: number
  maxDepth: number
  queuePrefix: string
  onMessage: OnMessageHandler | undefined
}

const PREFIX = 'fastify-ci-bridge: '
const NODE_ID = /^[A-Za-z0-9_.-]{1,64}$/
const KNOWN = new Set([
  'url',
  'nodeId',
  'containerId',
  'profile',
  'userManagerAddress',
  'nodeAddress',
  'nodeReplyTo',
  'broadcastAddress',
  'requestReplyAddress',
  'requestReplyTo',
  'tls',
  'reconnect',
  'outboxLimit',
  'sendTimeoutMs',
  'credit',
  'dedupeWindow',
  'closeTimeoutMs',
  'connectTimeoutMs',
  'maxCachedSenders',
  'maxDepth',
  'onMessage',
  'queuePrefix',
])
const ADDRESS_KEYS = [
  'userManagerAddress',
  'nodeAddress',
  'nodeReplyTo',
  'broadcastAddress',
  'requestReplyAddress',
  'requestReplyTo',
] as const
/** `requestReplyAddress` is not among them: only `request()` needs it, and refuses to run without it. */
const GENERIC_REQUIRED = ['userManagerAddress', 'nodeAddress', 'broadcastAddress'] as const

function fail(message: string): never {
  throw new Error(PREFIX + message)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function integer(
  raw: Record<string, unknown>,
  key: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = raw[key]
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(`"${key}" must be an integer from ${min} to ${max}`)
  }
  return value
}

/** Most broker addresses a bridge takes (a cluster's nodes). */
export const MAX_URLS = 32

/** `url`: one URL, or a list of them (the nodes of a cluster, tried in order). */
function parseUrls(value: unknown): BrokerEndpoint[] {
  if (!Array.isArray(value)) return [parseUrl(value)]
  if (value.length === 0 || value.length > MAX_URLS) {
    fail(`"url" as a list must hold 1 to ${MAX_URLS} URLs`)
  }
  const endpoints = value.map((item) => parseUrl(item))
  const vhosts = new Set(endpoints.map((e) => e.vhost ?? ''))
  if (vhosts.size > 1) {
    fail('every URL of "url" must name the same vhost (they are nodes of one cluster)')
  }
  return endpoints
}

function parseUrl(value: unknown): BrokerEndpoint {
  if (value === undefined || value === null || value === '') {
    fail('"url" is required: amqp://user:password@host:port or amqps://user:password@host:port')
  }
  if (typeof value !== 'string') fail('"url" must be a string or a list of strings')
  if (/,\s*amqps?:\/\//.test(value)) {
    fail('"url" holds several URLs in one string: give them as a list (["amqp://…", "amqp://…"])')
  }
  let url: URL
  try {
    url = new URL(value)
  } catch {
    fail('"url" is not a valid URL (expected amqp://user:password@host:port)')
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
    fail(`"url" must start with amqp:// or amqps:// (got ${url.protocol}//)`)
  }
  if (!url.hostname) fail('"url" needs a host')
  if (!url.username || !url.password) {
    fail('"url" must carry credentials: amqp://user:password@host:port')
  }
  const tls = url.protocol === 'amqps:'
  const port = url.port ? Number(url.port) : tls ? 5671 : 5672
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const path = decodeURIComponent(url.pathname.replace(/^\//, ''))
  const safe = new URL(url.href)
  safe.password = '***'
  return {
    host,
    port,
    transport: tls ? 'tls' : 'tcp',
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    safeUrl: safe.href,
    vhost: path === '' ? undefined : path,
  }
}

/**
 * Checks the plugin options and fills in the defaults. Throws an Error whose message starts with
 * `fastify-ci-bridge: ` and names the option at fault.
 */
export function resolveOptions(input: unknown, instanceId: string): ResolvedOptions {
  if (!isRecord(input)) fail('options must be an object with at least "url" and "nodeId"')
  const raw = input as Record<string, unknown> & Partial<CiBridgeOptions>
  for (const key of Object.keys(raw)) {
    if (!KNOWN.has(key)) fail(`unknown option "${key}"`)
  }
  const endpoints = parseUrls(raw.url)
  const tlsEverywhere = endpoints.every((e) => e.transport === 'tls')

  if (typeof raw.nodeId !== 'string' || !NODE_ID.test(raw.nodeId)) {
    fail('"nodeId" is required: 1-64 characters of [A-Za-z0-9_.-]')
  }
  const nodeId = raw.nodeId

  if (raw.containerId !== undefined && (typeof raw.containerId !== 'string' || raw.containerId === '')) {
    fail('"containerId" must be a non-empty string')
  }

  const profile = raw.profile ?? DEFAULTS.profile
  if (profile !== 'rabbitmq' && profile !== 'generic') fail("\"profile\" must be 'rabbitmq' or 'generic'")

  const overrides: AddressOverrides = {}
  for (const key of ADDRESS_KEYS) {
    const value = raw[key]
    if (value === undefined) continue
    if (typeof value !== 'string' || value.trim() === '') fail(`"${key}" must be a non-empty string`)
    overrides[key] = value
  }
  if (profile === 'generic') {
    const missing = GENERIC_REQUIRED.filter((key) => overrides[key] === undefined)
    if (missing.length > 0) {
      fail(
        `profile 'generic' uses addresses exactly as given: set ${missing.map((k) => `"${k}"`).join(', ')}`,
      )
    }
  }

  const queuePrefix = raw.queuePrefix ?? DEFAULTS.queuePrefix
  const prefixProblem = queuePrefixProblem(queuePrefix)
  if (prefixProblem) fail(`"queuePrefix" ${prefixProblem}`)
  const { nodeAddress, nodeReplyTo } = overrides
  if (profile === 'rabbitmq' && nodeAddress !== undefined && nodeReplyTo === undefined) {
    if (rabbitmqReplyAddress(nodeAddress) === undefined) {
      fail(
        `"nodeAddress" ${overrides.nodeAddress}: the broker names the queue behind it, so no reply address can be derived; set "nodeReplyTo" too, or use /queue/NAME`,
      )
    }
  }

  if (raw.tls !== undefined) {
    if (!isRecord(raw.tls)) fail('"tls" must be an object (node:tls connect options)')
    if (!tlsEverywhere) fail('"tls" needs an amqps:// url')
  }

  if (raw.reconnect !== undefined && !isRecord(raw.reconnect)) {
    fail('"reconnect" must be an object: { initialDelayMs?, maxDelayMs? }')
  }
  const reconnect = (raw.reconnect ?? {}) as Record<string, unknown>
  for (const key of Object.keys(reconnect)) {
    if (key !== 'initialDelayMs' && key !== 'maxDelayMs') fail(`unknown option "reconnect.${key}"`)
  }
  const initialDelayMs = integer(reconnect, 'initialDelayMs', DEFAULTS.initialDelayMs, 1, 3_600_000)
  const maxDelayMs = integer(
    reconnect,
    'maxDelayMs',
    Math.max(DEFAULTS.maxDelayMs, initialDelayMs),
    1,
    3_600_000,
  )
  if (maxDelayMs < initialDelayMs) fail('"reconnect.maxDelayMs" must be at least "reconnect.initialDelayMs"')

  if (raw.onMessage !== undefined && typeof raw.onMessage !== 'function') {
    fail('"onMessage" must be a function (message, meta) => Promise<void> | void')
  }

  return {
    endpoints,
    vhost: endpoints[0]?.vhost,
    ...resolveAddresses(profile, nodeId, instanceId, overrides, queuePrefix),
    nodeId,
    containerId: raw.containerId ?? `gateway-${nodeId}`,
    profile,
    tls: raw.tls,
    initialDelayMs,
    maxDelayMs,
    outboxLimit: integer(raw, 'outboxLimit', DEFAULTS.outboxLimit, 1, 10_000_000),
    sendTimeoutMs: integer(raw, 'sendTimeoutMs', DEFAULTS.sendTimeoutMs, 1, 86_400_000),
    credit: integer(raw, 'credit', DEFAULTS.credit, 1, MAX_CREDIT),
    dedupeWindow: integer(raw, 'dedupeWindow', DEFAULTS.dedupeWindow, 0, 10_000_000),
    closeTimeoutMs: integer(raw, 'closeTimeoutMs', DEFAULTS.closeTimeoutMs, 0, 3_600_000),
    connectTimeoutMs: integer(raw, 'connectTimeoutMs', DEFAULTS.connectTimeoutMs, 1, 3_600_000),
    maxCachedSenders: integer(raw, 'maxCachedSenders', DEFAULTS.maxCachedSenders, 1, 10_000),
    maxDepth: integer(raw, 'maxDepth', DEFAULTS.maxDepth, 1, 10_000),
    queuePrefix,
    onMessage: raw.onMessage,
  }
}
