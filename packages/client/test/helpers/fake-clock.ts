import type { Clock } from '../../src/index.js'

interface Timer {
  id: number
  due: number
  callback: () => void
}

/** A clock whose time moves only when the test says so; timers fire in due order. */
export class FakeClock implements Clock {
  #time = 1_000_000
  #nextId = 1
  readonly #timers = new Map<number, Timer>()

  now(): number {
    return this.#time
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.#nextId++
    this.#timers.set(id, { id, due: this.#time + ms, callback })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number)
  }

  /** Moves time on by `ms`, firing every timer that falls due on the way. */
  tick(ms: number): void {
    const end = this.#time + ms
    for (;;) {
      const next = [...this.#timers.values()].sort((a, b) => a.due - b.due || a.id - b.id)[0]
      if (!next || next.due > end) break
      this.#timers.delete(next.id)
      this.#time = next.due
      next.callback()
    }
    this.#time = end
  }

  /** Due times of the timers set, relative to now. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.due - this.#time).sort((a, b) => a - b)
  }
}
