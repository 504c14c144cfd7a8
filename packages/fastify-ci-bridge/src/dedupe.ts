/** A message being handled, and the copies waiting for its result (made only when a copy arrives). */
interface Running {
  waiters: Array<(succeeded: boolean) => void> | undefined
  /** Its id is remembered already (a success before); it stays remembered whatever this run does. */
  remembered: boolean
}

/** What the window holds for an id: remembered (a success, not being handled), or being handled. */
type Slot = typeof REMEMBERED | Running
const REMEMBERED = true

/**
 * Remembers the `message_id`s of the last `size` messages handled successfully, so that a copy
 * redelivered after a reconnect is settled without running its handler again.
 *
 * A copy that arrives while the original is still being handled waits for the original's result:
 * `status()` then returns a promise that resolves `true` if the original succeeded.
 *
 * One Map holds every id the window knows, remembered or being handled (one lookup per question, and
 * no second table that grows and shrinks with the messages in flight); beside it, a ring of the
 * remembered ids in the order they were first remembered, `size` slots, overwritten oldest first: O(1)
 * per message. (A Set used as its own FIFO, deleting its oldest entry through `values().next()`, costs
 * O(size) per message in V8, which skips the deleted slots at the front of the table: 8-9 µs per
 * message at the default 10,000, measured.) An id is remembered from its first success; a later
 * success of the same id does not move it.
 */
export class DedupeWindow {
  readonly #ids = new Map<string, Slot>()
  /** The remembered ids in arrival order, grown up to `size` slots, then overwritten oldest first. */
  readonly #ring: string[] = []
  #next = 0
  readonly #size: number

  constructor(size: number) {
    this.#size = size
  }

  status(id: string): 'new' | 'done' | Promise<boolean> {
    const slot = this.#ids.get(id)
    if (slot === undefined) return 'new'
    if (slot === REMEMBERED || slot.remembered) return 'done'
    return new Promise((resolve) => {
      slot.waiters ??= []
      slot.waiters.push(resolve)
    })
  }

  /** Marks `id` as being handled; call the returned function with the handler's success. */
  begin(id: string): (succeeded: boolean) => void {
    const before = this.#ids.get(id)
    const running: Running = {
      waiters: undefined,
      remembered: before === REMEMBERED || before?.remembered === true,
    }
    this.#ids.set(id, running)
    return (succeeded) => {
      if (this.#ids.get(id) === running) {
        if (running.remembered) this.#ids.set(id, REMEMBERED)
        else if (succeeded && this.#size > 0) {
          this.#ids.set(id, REMEMBERED)
          this.#remember(id)
        } else this.#ids.delete(id)
      }
      const waiters = running.waiters
      running.waiters = undefined
      if (waiters) for (const wake of waiters) wake(succeeded)
    }
  }

  get rememberedCount(): number {
    return this.#ring.length
  }

  /** Puts a newly remembered `id` in the ring; past `size`, the oldest remembered id is forgotten. */
  #remember(id: string): void {
    if (this.#ring.length < this.#size) {
      this.#ring.push(id)
      return
    }
    const oldest = this.#ring[this.#next] as string
    this.#ring[this.#next] = id
    this.#next = (this.#next + 1) % this.#size
    const slot = this.#ids.get(oldest)
    if (slot === REMEMBERED) this.#ids.delete(oldest)
    else if (slot !== undefined) slot.remembered = false
  }
}
