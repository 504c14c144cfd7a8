/** A message being handled, and the copies waiting for its result (made only when a copy arrives). */
interface Running {
  waiters: Array<(succeeded: boolean) => void> | undefined
}

/**
 * Remembers the `message_id`s of the last `size` messages handled successfully, so that a copy
 * redelivered after a reconnect is settled without running its handler again.
 *
 * A copy that arrives while the original is still being handled waits for the original's result:
 * `status()` then returns a promise that resolves `true` if the original succeeded.
 *
 * The remembered ids are a ring of `size` slots beside a Set for lookups: O(1) per message. (A Set
 * used as its own FIFO, deleting its oldest entry through `values().next()`, costs O(size) per
 * message in V8, which skips the deleted slots at the front of the table: 8-9 µs per message at the
 * default 10,000, measured.) An id is remembered from its first success; a later success of the same
 * id does not move it.
 */
export class DedupeWindow {
  readonly #done = new Set<string>()
  /** The remembered ids in arrival order, grown up to `size` slots, then overwritten oldest first. */
  readonly #ring: string[] = []
  #next = 0
  readonly #running = new Map<string, Running>()
  readonly #size: number

  constructor(size: number) {
    this.#size = size
  }

  status(id: string): 'new' | 'done' | Promise<boolean> {
    if (this.#done.has(id)) return 'done'
    const running = this.#running.get(id)
    if (running === undefined) return 'new'
    return new Promise((resolve) => {
      running.waiters ??= []
      running.waiters.push(resolve)
    })
  }

  /** Marks `id` as being handled; call the returned function with the handler's success. */
  begin(id: string): (succeeded: boolean) => void {
    const running: Running = { waiters: undefined }
    this.#running.set(id, running)
    return (succeeded) => {
      if (this.#running.get(id) === running) this.#running.delete(id)
      if (succeeded) this.#remember(id)
      const waiters = running.waiters
      running.waiters = undefined
      if (waiters) for (const wake of waiters) wake(succeeded)
    }
  }

  get rememberedCount(): number {
    return this.#done.size
  }

  #remember(id: string): void {
    if (this.#size <= 0 || this.#done.has(id)) return
    if (this.#ring.length < this.#size) this.#ring.push(id)
    else {
      const oldest = this.#ring[this.#next] as string
      this.#done.delete(oldest)
      this.#ring[this.#next] = id
      this.#next = (this.#next + 1) % this.#size
    }
    this.#done.add(id)
  }
}
