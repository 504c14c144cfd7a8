import { randomBytes } from 'node:crypto'
import type { ResumeOptions } from './types.js'

/** Resume options after validation, with every default applied (undefined when resume is off). */
export interface ResolvedResume {
  windowMs: number
  secret: string | undefined
  nodeId: string
  maxReplayFrames: number
  maxReplayBytes: number
  maxNodeReplayBytes: number
  tokenTtlMs: number
  locate: ResumeOptions['locate']
}

export const RESUME_DEFAULTS = {
  maxReplayFrames: 1000,
  maxReplayBytes: 1_048_576,
  maxNodeReplayBytes: 128 * 1_048_576,
  tokenTtlMs: 24 * 3_600_000,
} as const

const PREFIX = 'fastify-ws-sessions:'
const MAX_TIMER_MS = 2_147_483_647
const KNOWN = new Set([
  'windowMs',
  'secret',
  'nodeId',
  'maxReplayFrames',
  'maxReplayBytes',
  'maxNodeReplayBytes',
  'tokenTtlMs',
  'locate',
])

function fail(name: string, rule: string, value: unknown): never {
  const shown =
    typeof value === 'string'
      ? JSON.stringify(value)
      : typeof value === 'function'
        ? 'a function'
        : String(value)
  throw new TypeError(`${PREFIX} option "resume.${name}" must be ${rule} (got ${shown})`)
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(name, `an integer from ${min} to ${max}`, value)
  }
  return value
}

/** Validates `resume`; undefined when it is off (`false`, absent, or `windowMs: 0`). */
export function resolveResume(value: unknown): ResolvedResume | undefined {
  if (value === undefined || value === false) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${PREFIX} option "resume" must be false or { windowMs, secret?, nodeId?, … }`)
  }
  const opts = value as Record<string, unknown>
  for (const key of Object.keys(opts)) {
    if (!KNOWN.has(key)) throw new TypeError(`${PREFIX} option "resume" has an unknown field "${key}"`)
  }
  if (opts.windowMs === undefined) fail('windowMs', 'an integer from 0 to 2147483647', undefined)
  const windowMs = integer('windowMs', opts.windowMs, 0, 0, MAX_TIMER_MS)
  const { secret, nodeId, locate } = opts
  // Never echo a secret in an error.
  if (secret !== undefined && (typeof secret !== 'string' || Buffer.byteLength(secret) < 32)) {
    throw new TypeError(`${PREFIX} option "resume.secret" must be a string of at least 32 bytes`)
  }
  if (nodeId !== undefined && (typeof nodeId !== 'string' || nodeId.length === 0 || nodeId.length > 128)) {
    fail('nodeId', 'a string of 1-128 characters', nodeId)
  }
  if (locate !== undefined && typeof locate !== 'function') fail('locate', 'a function', locate)
  const resolved: ResolvedResume = {
    windowMs,
    secret: secret as string | undefined,
    nodeId: (nodeId as string | undefined) ?? `node-${randomBytes(6).toString('hex')}`,
    maxReplayFrames: integer(
      'maxReplayFrames',
      opts.maxReplayFrames,
      RESUME_DEFAULTS.maxReplayFrames,
      1,
      1_000_000,
    ),
    maxReplayBytes: integer(
      'maxReplayBytes',
      opts.maxReplayBytes,
      RESUME_DEFAULTS.maxReplayBytes,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    maxNodeReplayBytes: integer(
      'maxNodeReplayBytes',
      opts.maxNodeReplayBytes,
      RESUME_DEFAULTS.maxNodeReplayBytes,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    tokenTtlMs: integer(
      'tokenTtlMs',
      opts.tokenTtlMs,
      RESUME_DEFAULTS.tokenTtlMs,
      1,
      Number.MAX_SAFE_INTEGER,
    ),
    locate: locate as ResumeOptions['locate'],
  }
  if (resolved.maxNodeReplayBytes < resolved.maxReplayBytes) {
    throw new TypeError(`${PREFIX} option "resume.maxNodeReplayBytes" must be at least resume.maxReplayBytes`)
  }
  return windowMs === 0 ? undefined : resolved
}
