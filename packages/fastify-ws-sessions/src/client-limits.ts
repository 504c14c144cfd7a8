import { createHash } from 'node:crypto'
import { TokenBucket } from './rate-limit.js'
import type { ConnectRateOptions } from './types.js'

/** Keys longer than this are stored as a hash, so that one entry stays small whatever `clientKey` returns. */
export const MAX_STORED_KEY_LENGTH = 256

/** Entries an eviction looks at, at most, for one without sessions. */
const EVICTION_SCAN = 64

interface Entry {
  /** Accepted upgrades of this key whose TCP connection is still open. */
  sessions: number
  /** The key's connect-rate bucket (when `connectRate` is on). */
  bucket: TokenBucket | undefined
}

/** Why {@link ClientLimits.admit} refused. */
export type ClientRefusal = 'TOO_MANY_CLIENT_SESSIONS' | 'CONNECT_RATE_LIMITED'

export interface ClientLimitsOptions {
  maxSessionsPerClient: number
  connectRate: ConnectRateOptions | false
  maxClientKeys: number
  /** Monotonic clock in ms (tests inject one). */
  now?: () => number
}

/**
 * Per-client bounds on new sessions: concurrent sessions per key and a token
 * bucket of new sessions per key. Memory is bounded: an entry is deleted once
 * its key has no session and a full bucket (deleted at once when there is no
 * bucket, otherwise when next seen by a sweep), and past `maxClientKeys`
 * entries the least recently used idle one is evicted (an active one only when
 * every entry is active).
 */
export class ClientLimits {
  readonly #entries = new Map<string, Entry>()
  readonly #max: number
  readonly #rate: ConnectRateOptions | false
  readonly #maxKeys: number
  readonly #now: () => number
  #evicted = 0
  #scanned = 0

  constructor(options: ClientLimitsOptions) {
    this.#max = options.maxSessionsPerClient
    this.#rate = options.connectRate
    this.#maxKeys = options.maxClientKeys
    this.#now = options.now ?? (() => performance.now())
  }

  /** False when both limits are off: nothing is tracked. */
  get enabled(): boolean {
    return this.#max > 0 || this.#rate !== false
  }

  /** Keys tracked now, after dropping those with no session and a full bucket. */
  get size(): number {
    this.prune()
    return this.#entries.size
  }

  /** Entries dropped because the map was full. */
  get evicted(): number {
    return this.#evicted
  }

  /** Entries the evictions have looked at so far (each eviction looks at EVICTION_SCAN at most). */
  get scanned(): number {
    return this.#scanned
  }

  /** The key as stored: long keys become a hash. */
  static storedKey(key: string): string {
    if (key.length <= MAX_STORED_KEY_LENGTH) return key
    return `sha256:${createHash('sha256').update(key).digest('base64url')}`
  }

  /** Sessions counted for a key now. */
  sessionsOf(key: string): number {
    return this.#entries.get(ClientLimits.storedKey(key))?.sessions ?? 0
  }

  /**
   * Checks a new session of `key` against both limits; when admitted, counts it
   * (call `release` once its connection is gone). Returns the refusal, or
   * undefined when admitted.
   */
  admit(key: string): { refused: ClientRefusal; retryAfterMs?: number } | undefined {
    const now = this.#now()
    const entry = this.#touch(ClientLimits.storedKey(key), now)
    let result: { refused: ClientRefusal; retryAfterMs?: number } | undefined
    if (this.#max > 0 && entry.sessions >= this.#max) {
      result = { refused: 'TOO_MANY_CLIENT_SESSIONS' }
    } else if (entry.bucket && !entry.bucket.take(now)) {
      result = { refused: 'CONNECT_RATE_LIMITED', retryAfterMs: entry.bucket.msUntilToken(now) }
    } else {
      entry.sessions++
    }
    this.#evictOverflow()
    return result
  }

  /**
   * Takes one connect token of `key` without counting a session (a rate of attempts, whatever becomes
   * of them). Returns the refusal when the bucket is empty, or undefined.
   */
  attempt(key: string): { refused: 'CONNECT_RATE_LIMITED'; retryAfterMs: number } | undefined {
    const now = this.#now()
    const entry = this.#touch(ClientLimits.storedKey(key), now)
    const bucket = entry.bucket
    const result =
      bucket && !bucket.take(now)
        ? { refused: 'CONNECT_RATE_LIMITED' as const, retryAfterMs: bucket.msUntilToken(now) }
        : undefined
    this.#evictOverflow()
    return result
  }

  /** The entry of a stored key (created when new), moved to the most recently used end. */
  #touch(stored: string, now: number): Entry {
    this.#sweep(now, 2)
    let entry = this.#entries.get(stored)
    if (entry) {
      // Most recently used last: eviction and sweeps start with the least recently used.
      this.#entries.delete(stored)
    } else {
      entry = {
        sessions: 0,
        bucket: this.#rate === false ? undefined : new TokenBucket(this.#rate.perSec, this.#rate.burst, now),
      }
    }
    this.#entries.set(stored, entry)
    return entry
  }

  /** A session admitted for `key` is gone. */
  release(key: string): void {
    const stored = ClientLimits.storedKey(key)
    const entry = this.#entries.get(stored)
    if (!entry || entry.sessions === 0) return // evicted meanwhile
    entry.sessions--
    if (this.#isIdle(entry, this.#now())) this.#entries.delete(stored)
  }

  /** Drops every entry with no session and a full bucket. */
  prune(): void {
    this.#sweep(this.#now(), Number.POSITIVE_INFINITY)
  }

  clear(): void {
    this.#entries.clear()
  }

  #isIdle(entry: Entry, now: number): boolean {
    return entry.sessions === 0 && (entry.bucket === undefined || entry.bucket.isFull(now))
  }

  /** Looks at up to `limit` least recently used entries and drops the idle ones. */
  #sweep(now: number, limit: number): void {
    let seen = 0
    for (const [key, entry] of this.#entries) {
      if (seen++ >= limit) break
      if (this.#isIdle(entry, now)) this.#entries.delete(key)
    }
  }

  #evictOverflow(): void {
    while (this.#entries.size > this.#maxKeys) {
      // Oldest idle entry among the first few; active ones seen on the way go to the back, so that
      // the next scan does not walk them again (the scan stays short however many are active).
      let victim: string | undefined
      const active: Array<[string, Entry]> = []
      for (const [key, entry] of this.#entries) {
        this.#scanned++
        if (entry.sessions === 0) {
          victim = key
          break
        }
        active.push([key, entry])
        if (active.length >= EVICTION_SCAN) break
      }
      if (victim === undefined) {
        // Only active keys at the front: forget the oldest (its sessions are then no longer counted).
        victim = active.shift()?.[0]
        if (victim === undefined) return
      }
      this.#entries.delete(victim)
      this.#evicted++
      for (const [key, entry] of active) {
        if (key === victim) continue
        this.#entries.delete(key)
        this.#entries.set(key, entry)
      }
    }
  }
}
