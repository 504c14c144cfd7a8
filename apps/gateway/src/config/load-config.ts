import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { Compile } from 'typebox/compile'
import { type Coerce, VARIABLES, type VariableSpec } from './variables.js'

export interface GatewayConfig {
  host: string
  port: number
  wsPath: string
  apiHost: string
  apiPort?: number
  nodeId: string
  amqpUrl?: string
  amqpProfile: 'rabbitmq' | 'generic'
  umAddress?: string
  broadcastAddress?: string
  nodeAddress?: string
  nodeReplyTo?: string
  outboxLimit: number
  sendTimeoutMs: number
  credit: number
  adminToken?: string
  allowedOrigins?: string[]
  /** Fastify's `trustProxy`: false, true, or proxy addresses/CIDRs. */
  trustProxy: boolean | string[]
  shutdownTimeoutMs: number
  jwtSecret?: string
  jwksFile?: string
  jwtAudience?: string
  jwtIssuer?: string
  demoPage: boolean
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  maxPayload: number
  maxSessions: number
  maxBadFrames: number
  ratePerSec: number
  rateBurst: number
  rateMaxViolations: number
  maxSessionsPerClient: number
  connectRatePerSec: number
  connectBurst: number
  maxRoomsPerSession: number
  maxBufferedBytes: number
  heartbeatIntervalMs: number
  /** 0: resume off. */
  resumeWindowMs: number
  /** Unset in embedded mode (a random one is used) or with resume off. */
  resumeSecret?: string
  replayMaxFrames: number
  replayMaxBytes: number
  nodeReplayMaxBytes: number
}

/** Thrown for invalid configuration; its message names every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`)
    this.name = 'ConfigError'
  }
}

const validators = new Map(VARIABLES.map((v) => [v.name, Compile(v.schema)]))

function coerce(kind: Coerce, text: string): unknown {
  switch (kind) {
    case 'string':
      return text
    case 'integer':
      return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN
    case 'boolean':
      return (
        { true: true, '1': true, yes: true, false: false, '0': false, no: false }[
          text.trim().toLowerCase()
        ] ?? text
      )
    case 'list':
      return splitList(text)
    case 'trustProxy': {
      const t = text.trim().toLowerCase()
      if (t === 'true' || t === 'false') return t === 'true'
      return splitList(text)
    }
  }
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])

/** An entry of a trustProxy list, as proxy-addr (Fastify) accepts it: an address, address/prefix, IPv4/netmask, or a name. */
function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.has(entry)) return true
  const [address = '', range, ...rest] = entry.split('/')
  const family = isIP(address)
  if (family === 0 || rest.length > 0) return false
  if (range === undefined) return true
  if (/^\d+$/.test(range)) return Number(range) <= (family === 4 ? 32 : 128)
  return family === 4 && isIP(range) === 4
}

function expectation(spec: VariableSpec): string {
  if (spec.expected) return spec.expected
  const s = spec.schema as {
    minimum?: number
    maximum?: number
    minLength?: number
    pattern?: string
    anyOf?: { const?: unknown }[]
  }
  if (spec.coerce === 'integer') return `an integer from ${s.minimum ?? 0} to ${s.maximum}`
  if (spec.coerce === 'boolean') return 'true or false (also 1/0, yes/no)'
  if (spec.coerce === 'trustProxy') {
    return 'true, false, or a comma-separated list of addresses/CIDRs'
  }
  if (s.anyOf) return `one of ${s.anyOf.map((o) => o.const).join(', ')}`
  if (spec.coerce === 'list') return 'a comma-separated list of origins like https://app.example.com'
  if (s.pattern) return `text matching ${s.pattern}`
  if (s.minLength) return `text of at least ${s.minLength} characters`
  return 'text'
}

/** Reads and validates the configuration; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  const out: Record<string, unknown> = {}
  const problems: string[] = []
  for (const spec of VARIABLES) {
    const raw = env[spec.name]
    const text = raw === undefined || raw === '' ? spec.default : raw
    if (text === undefined) continue
    const value = coerce(spec.coerce, text)
    if (!validators.get(spec.name)?.Check(value)) {
      const shown = JSON.stringify(spec.redact ? spec.redact(text) : text)
      problems.push(`${spec.name}=${shown}: must be ${expectation(spec)}`)
      continue
    }
    out[spec.key] = value
  }
  if (out.jwtSecret !== undefined && out.jwksFile !== undefined) {
    problems.push('AUTH_JWT_SECRET and AUTH_JWKS_FILE: set one of them, not both')
  }
  if (
    (out.jwtAudience !== undefined || out.jwtIssuer !== undefined) &&
    out.jwtSecret === undefined &&
    out.jwksFile === undefined
  ) {
    problems.push('AUTH_JWT_AUDIENCE / AUTH_JWT_ISSUER need AUTH_JWT_SECRET or AUTH_JWKS_FILE')
  }
  const shutdownMs = out.shutdownTimeoutMs as number | undefined
  const sendMs = out.sendTimeoutMs as number | undefined
  if (
    out.amqpUrl !== undefined &&
    shutdownMs !== undefined &&
    sendMs !== undefined &&
    shutdownMs < sendMs + 5000
  ) {
    // A shutdown waits up to one send timeout for the CLIENT_DISCONNECTEDs, plus the sockets' close
    // handshakes and the links' detach: below this it would be cut short (exit 1) while the broker is away.
    problems.push(
      `GATEWAY_SHUTDOWN_TIMEOUT_MS=${shutdownMs} must be at least AMQP_SEND_TIMEOUT_MS + 5000 (${sendMs + 5000})`,
    )
  }
  if (out.amqpUrl !== undefined && out.amqpProfile === 'generic') {
    const missing = ['UM_ADDRESS', 'NODE_ADDRESS', 'BROADCAST_ADDRESS'].filter(
      (name) => env[name] === undefined || env[name] === '',
    )
    if (missing.length > 0) {
      problems.push(`AMQP_PROFILE=generic uses the addresses exactly as given: set ${missing.join(', ')}`)
    }
  }
  if (Array.isArray(out.trustProxy)) {
    const bad = (out.trustProxy as string[]).filter((entry) => !isProxyAddress(entry))
    if (bad.length === 1 && /^\d+$/.test(bad[0] ?? '')) {
      // Fastify 5 turns hop-count trust off (a client reaching the node directly could spoof X-Forwarded-For).
      problems.push(
        `GATEWAY_TRUST_PROXY=${JSON.stringify(bad[0])}: a hop count is not accepted (Fastify 5 ignores hop-count trust, which lets a direct client spoof X-Forwarded-For); give the proxies' addresses/CIDRs, or true`,
      )
    } else if (bad.length > 0) {
      problems.push(
        `GATEWAY_TRUST_PROXY: ${bad.map((b) => JSON.stringify(b)).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not an IP address, CIDR, or one of loopback, linklocal, uniquelocal`,
      )
    }
  }
  if (out.amqpUrl !== undefined && (out.resumeWindowMs as number) > 0 && out.resumeSecret === undefined) {
    // With a broker, other nodes may exist (now or during a rolling deploy): they must verify this
    // node's tokens, so a random per-process secret would silently break every cross-node resume.
    problems.push(
      'GATEWAY_RESUME_SECRET is required with AMQP_URL when SESSION_RESUME_WINDOW_MS > 0: set the same secret (>= 32 characters) on every node, or SESSION_RESUME_WINDOW_MS=0 to turn resume off',
    )
  }
  if ((out.nodeReplayMaxBytes as number) < (out.replayMaxBytes as number)) {
    problems.push(
      `NODE_REPLAY_MAX_BYTES=${String(out.nodeReplayMaxBytes)} must be at least SESSION_REPLAY_MAX_BYTES (${String(out.replayMaxBytes)})`,
    )
  }
  if (problems.length > 0) throw new ConfigError(problems)
  out.nodeId ??= `node-${randomBytes(6).toString('hex')}`
  return out as unknown as GatewayConfig
}

/** The text `--help` prints: every variable with its default. */
export function helpText(): string {
  const lines = [
    'session-gateway: WebSocket sessions <-> AMQP 1.0',
    '',
    'Usage: node apps/gateway/dist/main.js [--help]',
    'Configuration comes from the environment:',
    '',
  ]
  for (const v of VARIABLES) {
    lines.push(`  ${v.name.padEnd(28)} ${v.description}`)
    lines.push(`  ${''.padEnd(28)} default: ${v.default ?? '(unset)'}`)
  }
  return `${lines.join('\n')}\n`
}
