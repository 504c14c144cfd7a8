import { randomBytes } from 'node:crypto'

/** Random bytes drawn from the system at once: one call per 256 session ids, not one each. */
const POOL_BYTES = 4096
const SID_BYTES = 16

let pool = Buffer.alloc(0)
let offset = 0

/**
 * A new session id: 16 bytes (128 bits) from the system's CSPRNG, base64url. The bytes come from a
 * pool filled 4 KiB at a time (like `crypto.randomUUID`'s cache): each id still gets bytes no other
 * id got, and a connect storm costs one `getrandom` per 256 connects instead of one each.
 */
export function newSessionId(): string {
  if (offset + SID_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES)
    offset = 0
  }
  const sid = pool.toString('base64url', offset, offset + SID_BYTES)
  offset += SID_BYTES
  return sid
}
