import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { SID_PATTERN } from '@session-gateway/message-schema'
import type { ResumeClaim } from '../types.js'

const SID = new RegExp(SID_PATTERN)
/** Bound on the text a token may be before any work is done on it. */
export const MAX_TOKEN_LENGTH = 1024
/** Keeps a MAC of this scheme from ever matching a MAC the same secret makes elsewhere. */
const DOMAIN = 'fastify-ws-sessions resume token v1\n'
const MAC_BYTES = 32

/** The signed part of a token. */
interface Payload {
  s: string
  n: string
  g: number
  e: number
  /** 1 for a resume key: good for every resume of the session, whatever its generation. */
  k?: 1
}

function isPayload(value: unknown): value is Payload {
  if (typeof value !== 'object' || value === null) return false
  const p = value as Record<string, unknown>
  return (
    typeof p.s === 'string' &&
    SID.test(p.s) &&
    typeof p.n === 'string' &&
    p.n.length > 0 &&
    Number.isSafeInteger(p.g) &&
    (p.g as number) >= 0 &&
    Number.isSafeInteger(p.e) &&
    (p.k === undefined || p.k === 1)
  )
}

/**
 * Resume tokens: `<payload>.<mac>`, both base64url; the payload names the session, its node, the
 * generation (a counter the session's node holds: a token is good for one resume) and when the token
 * expires; the MAC is HMAC-SHA256 with the deployment's secret. A token of another deployment, or
 * altered in any byte, fails the MAC before anything else is read.
 */
export class ResumeTokens {
  readonly #secret: Buffer

  constructor(secret: string | undefined) {
    this.#secret = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8')
  }

  #mac(payload: string): Buffer {
    return createHmac('sha256', this.#secret).update(DOMAIN).update(payload).digest()
  }

  issue(sid: string, node: string, generation: number, expiresAt: number): string {
    return this.#sign({ s: sid, n: node, g: generation, e: expiresAt })
  }

  /**
   * A resume key: like a token, but good for every resume of the session while it lives (for clients
   * that cannot take a new token on each resume, e.g. Socket.IO's `pid`). Names the issuing node.
   */
  issueKey(sid: string, node: string, expiresAt: number): string {
    return this.#sign({ s: sid, n: node, g: 0, e: expiresAt, k: 1 })
  }

  #sign(fields: Payload): string {
    const payload = Buffer.from(JSON.stringify(fields)).toString('base64url')
    return `${payload}.${this.#mac(payload).toString('base64url')}`
  }

  /** The claim of a token whose MAC is good (expiry is the caller's check), else undefined. */
  verify(token: string): ResumeClaim | undefined {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return undefined
    const dot = token.indexOf('.')
    if (dot <= 0 || dot !== token.lastIndexOf('.')) return undefined
    const payload = token.slice(0, dot)
    const macText = token.slice(dot + 1)
    const mac = Buffer.from(macText, 'base64url')
    // Canonical form only: base64url decoding skips stray characters and ignores the last bits.
    if (mac.length !== MAC_BYTES || mac.toString('base64url') !== macText) return undefined
    if (!timingSafeEqual(mac, this.#mac(payload))) return undefined
    let parsed: unknown
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    } catch {
      return undefined
    }
    if (!isPayload(parsed)) return undefined
    return {
      sid: parsed.s,
      node: parsed.n,
      generation: parsed.g,
      expiresAt: parsed.e,
      token,
      ...(parsed.k === 1 ? { stable: true } : {}),
    }
  }
}
