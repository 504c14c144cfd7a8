import { randomBytes } from 'node:crypto'

/**
 * A small seedable PRNG (mulberry32: 32-bit state, period 2^32), good enough to drive a fuzzer and
 * replayable from its seed. Not for anything secret.
 */
export class Prng {
  #state: number

  constructor(readonly seed: number) {
    this.#state = seed >>> 0
  }

  /** The seed from FUZZ_SEED (decimal or 0x hex), else a fresh random one. */
  static fromEnv(variable = 'FUZZ_SEED'): Prng {
    const text = process.env[variable]
    if (text !== undefined && text.trim() !== '') {
      const seed = Number(text.trim())
      if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
        throw new Error(`${variable} must be an integer from 0 to 4294967295 (got ${JSON.stringify(text)})`)
      }
      return new Prng(seed)
    }
    return new Prng(randomBytes(4).readUInt32LE(0))
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296
  }

  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[this.int(0, items.length - 1)] as T
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(table: ReadonlyArray<readonly [number, T]>): T {
    let total = 0
    for (const [w] of table) total += w
    let r = this.next() * total
    for (const [w, value] of table) {
      r -= w
      if (r < 0) return value
    }
    return (table[table.length - 1] as readonly [number, T])[1]
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length)
    for (let i = 0; i < length; i++) out[i] = this.nextUint32() & 0xff
    return out
  }
}
