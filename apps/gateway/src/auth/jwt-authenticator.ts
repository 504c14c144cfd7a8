import { readFileSync } from 'node:fs'
import type { FastifyRequest } from 'fastify'
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey, jwtVerify } from 'jose'
import { ConfigError } from '../config/load-config.js'

export interface JwtAuthOptions {
  /** HS256 shared secret (>= 32 characters). */
  secret?: string
  /** Path of a JWKS file (public keys: RS256, ES256, EdDSA, …). */
  jwksFile?: string
  audience?: string
  issuer?: string
  clockToleranceSec?: number
}

/** Where a client may put its token: the Authorization header, or `access_token` in the query (browsers cannot set WebSocket headers). */
export function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
    return match?.[1]
  }
  const query = request.query as Record<string, unknown> | undefined
  const fromQuery = query?.access_token
  return typeof fromQuery === 'string' && fromQuery.length > 0 ? fromQuery : undefined
}

function loadJwks(path: string): JWTVerifyGetKey {
  let parsed: unknown
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new ConfigError([
      `AUTH_JWKS_FILE: cannot read a JSON key set from ${path}: ${(err as Error).message}`,
    ])
  }
  if (!Array.isArray((parsed as { keys?: unknown })?.keys)) {
    throw new ConfigError([`AUTH_JWKS_FILE: ${path} is not a JWKS ({"keys":[…]})`])
  }
  return createLocalJWKSet(parsed as JSONWebKeySet)
}

/** Verifies one JWT (signature, expiry, not-before, audience, issuer); rejects with why (never whose). */
export type TokenVerifier = (token: string) => Promise<Record<string, unknown>>

/** The JWT check shared by the WebSocket upgrade and the Socket.IO CONNECT (jose). */
export function createJwtVerifier(options: JwtAuthOptions): TokenVerifier {
  const verifyOptions = {
    ...(options.audience ? { audience: options.audience } : {}),
    ...(options.issuer ? { issuer: options.issuer } : {}),
    clockTolerance: options.clockToleranceSec ?? 5,
    // A token that never expires is a credential that can never be taken back: refused.
    requiredClaims: ['exp'],
  }
  let verify: TokenVerifier
  if (options.secret) {
    const key = new TextEncoder().encode(options.secret)
    verify = async (token) =>
      (await jwtVerify(token, key, { ...verifyOptions, algorithms: ['HS256'] })).payload
  } else if (options.jwksFile) {
    const keys = loadJwks(options.jwksFile)
    verify = async (token) =>
      (
        await jwtVerify(token, keys, {
          ...verifyOptions,
          algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'],
        })
      ).payload
  } else {
    throw new Error('JWT authentication needs a secret or a JWKS file')
  }
  return async (token) => {
    try {
      return await verify(token)
    } catch (err) {
      // jose's claim errors carry the token's whole payload: log why, never whose.
      const { code, message } = err as { code?: string; message?: string }
      throw new Error(`token refused: ${code ?? 'ERR_JWT_INVALID'}: ${message ?? 'invalid token'}`)
    }
  }
}

/**
 * The sessions plugin's `authenticate` hook for JWTs: verifies signature,
 * expiry (required), not-before, audience and issuer with jose, and returns the verified
 * claims (they reach the User Manager as CLIENT_CONNECTED.meta.user).
 * Any failure answers HTTP 401 before the upgrade.
 */
export function createJwtAuthenticator(options: JwtAuthOptions | TokenVerifier) {
  const verify = typeof options === 'function' ? options : createJwtVerifier(options)
  return async function authenticate(request: FastifyRequest): Promise<Record<string, unknown> | undefined> {
    const token = tokenOf(request)
    if (!token) throw new Error('no token (Authorization: Bearer, or access_token in the query)')
    return verify(token)
  }
}
