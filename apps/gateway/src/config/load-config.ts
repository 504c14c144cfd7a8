import { randomBytes } from 'node:crypto'
import { isIP } from 'node:net'
import { rabbitmqReplyAddress } from 'fastify-ci-bridge'
import { Compile } from 'typebox/compile'
import { umQueueName } from '../backend/um-queue-name.js'
import { openFilesLimit } from '../connections/open-files-limit.js'
import { connectionBudget } from './connection-budget.js'
import {
  type Coerce,
  type ConfigGroup,
  type ConfigGroups,
  VARIABLES,
  type VariableSpec,
} from './variables.js'

/**
 * The configuration, by the part of the gateway it configures (typed from the variables' schemas:
 * see variables.ts). Each group's keys are the option names of what it is passed to.
 */
export type GatewayConfig = ConfigGroups & {
  /** What the configuration had to give up (a default lowered to fit the open-file limit): logged at start. */
  warnings: string[]
}

/** What was parsed so far: a value whose variable failed its check is missing. */
type Draft = { [G in ConfigGroup]: Partial<ConfigGroups[G]> }

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

/** The vhost part of an AMQP URL ('' for none). */
function vhostOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
  } catch {
    return ''
  }
}

/**
 * Reads and validates the configuration; throws ConfigError naming every bad variable. `host.openFiles`
 * is the process's open-file limit the connection caps must fit in (read from the system by default).
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  host: { openFiles: number | undefined } = { openFiles: openFilesLimit() },
): GatewayConfig {
  const parsed: Record<ConfigGroup, Record<string, unknown>> = {
    node: {},
    http: {},
    sessions: {},
    resume: {},
    bridge: {},
    auth: {},
    umQueue: {},
  }
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
    parsed[spec.group][spec.key] = value
  }
  // Each value passed its variable's schema; one that failed is missing (and named in `problems`).
  const draft = parsed as Draft
  problems.push(...crossChecks(draft, env))
  const set = (name: string) => env[name] !== undefined && env[name] !== ''
  const budget = connectionBudget(
    {
      maxSessions: draft.sessions.maxSessions ?? 1,
      maxSessionsSet: set('SESSION_MAX') && draft.sessions.maxSessions !== undefined,
      maxConnections: draft.http.maxConnections,
      apiListener: draft.http.apiPort !== undefined,
    },
    host.openFiles,
  )
  problems.push(...budget.problems)
  if (problems.length > 0) throw new ConfigError(problems)
  draft.http.maxConnections = budget.maxConnections
  draft.node.id ??= `node-${randomBytes(6).toString('hex')}`
  // No problem: every variable with a default (fixed or derived, just set) has its value.
  return { ...(draft as ConfigGroups), warnings: budget.warnings }
}

/** The checks that involve more than one variable. */
function crossChecks(d: Draft, env: Record<string, string | undefined>): string[] {
  // In this order in the error message.
  return [
    ...authChecks(d.auth),
    ...bridgeChecks(d, env),
    ...trustProxyChecks(d.http),
    ...resumeChecks(d),
    ...timeoutChecks(d.http),
  ]
}

function authChecks(auth: Draft['auth']): string[] {
  const problems: string[] = []
  if (auth.secret !== undefined && auth.jwksFile !== undefined) {
    problems.push('AUTH_JWT_SECRET and AUTH_JWKS_FILE: set one of them, not both')
  }
  if (
    (auth.audience !== undefined || auth.issuer !== undefined) &&
    auth.secret === undefined &&
    auth.jwksFile === undefined
  ) {
    problems.push('AUTH_JWT_AUDIENCE / AUTH_JWT_ISSUER need AUTH_JWT_SECRET or AUTH_JWKS_FILE')
  }
  return problems
}

/** The broker link: its addresses, its cluster URLs, the UM queue check, the shutdown bound. */
function bridgeChecks(d: Draft, env: Record<string, string | undefined>): string[] {
  const problems: string[] = []
  const { bridge } = d
  const shutdownMs = d.node.shutdownTimeoutMs
  const sendMs = bridge.sendTimeoutMs
  if (
    bridge.url !== undefined &&
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
  if (bridge.url !== undefined && bridge.profile === 'generic') {
    const missing = ['UM_ADDRESS', 'NODE_ADDRESS', 'BROADCAST_ADDRESS'].filter(
      (name) => env[name] === undefined || env[name] === '',
    )
    if (missing.length > 0) {
      problems.push(`AMQP_PROFILE=generic uses the addresses exactly as given: set ${missing.join(', ')}`)
    }
  }
  if (
    bridge.url !== undefined &&
    bridge.profile === 'rabbitmq' &&
    typeof bridge.nodeAddress === 'string' &&
    bridge.nodeReplyTo === undefined &&
    rabbitmqReplyAddress(bridge.nodeAddress) === undefined
  ) {
    // What others send to would be a queue nobody declared: the broker accepts and drops it all.
    problems.push(
      `NODE_ADDRESS=${JSON.stringify(bridge.nodeAddress)} without NODE_REPLY_TO: the broker names the queue behind this address, so nothing can reach this node through it; set NODE_REPLY_TO, or give NODE_ADDRESS as /queue/NAME (NODE_REPLY_TO is then /amq/queue/NAME)`,
    )
  }
  const urls = bridge.url
  if (urls && new Set(urls.map(vhostOf)).size > 1) {
    problems.push('AMQP_URL: every URL must name the same vhost (they are the nodes of one cluster)')
  }
  if (d.umQueue.type !== undefined) {
    const umAddress = bridge.userManagerAddress ?? '/queue/user-manager'
    if (urls === undefined || bridge.profile !== 'rabbitmq') {
      problems.push('UM_QUEUE_TYPE needs AMQP_URL and AMQP_PROFILE=rabbitmq (it is a RabbitMQ queue type)')
    } else if (umQueueName(umAddress) === undefined) {
      problems.push(
        `UM_QUEUE_TYPE needs a UM_ADDRESS that names a queue (/queue/NAME, /amq/queue/NAME or NAME), not ${JSON.stringify(umAddress)}`,
      )
    }
  }
  return problems
}

function trustProxyChecks(http: Draft['http']): string[] {
  const problems: string[] = []
  if (Array.isArray(http.trustProxy)) {
    const bad = http.trustProxy.filter((entry) => !isProxyAddress(entry))
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
  return problems
}

function timeoutChecks(http: Draft['http']): string[] {
  const problems: string[] = []
  const headersMs = http.headersTimeoutMs
  const requestMs = http.requestTimeoutMs
  if (headersMs !== undefined && requestMs !== undefined && headersMs > requestMs) {
    problems.push(
      `GATEWAY_HEADERS_TIMEOUT_MS=${headersMs} must not be above GATEWAY_REQUEST_TIMEOUT_MS=${requestMs} (the headers are part of the request)`,
    )
  }
  return problems
}

function resumeChecks(d: Draft): string[] {
  const problems: string[] = []
  const { bridge, resume } = d
  if (bridge.url !== undefined && (resume.windowMs ?? 0) > 0 && resume.secret === undefined) {
    // With a broker, other nodes may exist (now or during a rolling deploy): they must verify this
    // node's tokens, so a random per-process secret would silently break every cross-node resume.
    problems.push(
      'GATEWAY_RESUME_SECRET is required with AMQP_URL when SESSION_RESUME_WINDOW_MS > 0: set the same secret (>= 32 characters) on every node, or SESSION_RESUME_WINDOW_MS=0 to turn resume off',
    )
  }
  if ((resume.maxNodeReplayBytes as number) < (resume.maxReplayBytes as number)) {
    problems.push(
      `NODE_REPLAY_MAX_BYTES=${String(resume.maxNodeReplayBytes)} must be at least SESSION_REPLAY_MAX_BYTES (${String(resume.maxReplayBytes)})`,
    )
  }
  return problems
}

/** The text `--help` prints: every variable with its default. */
export function helpText(): string {
  const lines = [
    'session-gateway: WebSocket sessions <-> AMQP 1.0',
    '',
    'Usage: session-gateway [--help]   (from a deployed folder: node dist/main.js [--help])',
    'Configuration comes from the environment:',
    '',
  ]
  const width = Math.max(...VARIABLES.map((v) => v.name.length))
  for (const v of VARIABLES) {
    lines.push(`  ${v.name.padEnd(width)} ${v.description}`)
    lines.push(`  ${''.padEnd(width)} default: ${v.default ?? v.derivedDefault ?? '(unset)'}`)
  }
  return `${lines.join('\n')}\n`
}
