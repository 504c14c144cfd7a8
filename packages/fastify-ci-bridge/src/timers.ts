type Handle = ReturnType<typeof setTimeout>

/**
 * Every timer of the bridge goes through here: unref()ed (a timer never holds the process open),
 * counted (`size`: a test asserts none is left after close), and cleared by `clearAll()`.
 */
export class Timers {
  readonly #active = new Set<Handle>()

  /** Timers armed now (each deadline queue counts one while it waits). */
  get size(): number {
    return this.#active.size
  }

  timeout(fn: () => void, ms: number): Handle {
    const handle: Handle = setTimeout(
      () => {
        this.#active.delete(handle)
        fn()
      },
      Math.max(0, ms),
    )
    handle.unref()
    this.#active.add(handle)
    return handle
  }

  clear(handle: Handle | undefined): void {
    if (handle === undefined) return
    clearTimeout(handle)
    this.#active.delete(handle)
  }

  clearAll(): void {
    for (const handle of this.#active) clearTimeout(handle)
    this.#active.clear()
  }

  /** A queue of deadlines that all last `ms`, on one timer (see DeadlineQueue). */
  deadlines<T>(ms: number, expire: (item: T) => void): DeadlineQueue<T> {
    return new DeadlineQueue(this, ms, expire)
  }

  /** Waits for `promise` at most `ms` (never rejects); the timer is cleared either way. */
  async atMost(promise: Promise<unknown>, ms: number): Promise<void> {
    let handle: Handle | undefined
    await Promise.race([
      promise.then(
        () => {},
        () => {},
      ),
      new Promise<void>((resolve) => {
        handle = this.timeout(resolve, ms)
      }),
    ])
    this.clear(handle)
  }
}

/** A place in a DeadlineQueue: `cancel()` takes it out in O(1). */
export interface Deadline {
  cancel(): void
}

/** One deadline: a node of its queue's list (no closure, no timer of its own). */
class Slot<T> implements Deadline {
  prev: Slot<T> | undefined
  next: Slot<T> | undefined

  constructor(
    readonly queue: DeadlineQueue<T>,
    readonly item: T,
    readonly at: number,
  ) {}

  cancel(): void {
    this.queue.remove(this)
  }
}

/**
 * Deadlines of one fixed duration, in the order they were added, which is also the order they
 * expire in: a doubly linked FIFO with one timer armed for its head. `add` and `cancel` are O(1)
 * and cost no timer of their own (a send timeout per message is one list node, not a setTimeout).
 */
export class DeadlineQueue<T> {
  readonly #timers: Timers
  readonly #ms: number
  readonly #expire: (item: T) => void
  #head: Slot<T> | undefined
  #tail: Slot<T> | undefined
  #timer: Handle | undefined
  #firing = false
  /** When the armed timer fires (it may be earlier than the head's deadline, never later). */
  #armedAt = 0

  constructor(timers: Timers, ms: number, expire: (item: T) => void) {
    this.#timers = timers
    this.#ms = ms
    this.#expire = expire
  }

  add(item: T): Deadline {
    const node = new Slot(this, item, Date.now() + this.#ms)
    node.prev = this.#tail
    if (this.#tail) this.#tail.next = node
    else this.#head = node
    this.#tail = node
    if (this.#timer === undefined && !this.#firing) this.#arm(node.at)
    return node
  }

  /** Cancels every deadline and the timer. */
  clear(): void {
    for (let node = this.#head; node; ) {
      const next = node.next
      node.prev = undefined
      node.next = undefined
      node = next
    }
    this.#head = undefined
    this.#tail = undefined
    this.#disarm()
  }

  /** Takes a deadline out (what `Deadline.cancel()` does); one already expired or removed is left alone. */
  remove(deadline: Deadline): void {
    const node = deadline as Slot<T>
    if (node.queue !== this) return
    const linked = node.prev !== undefined || node.next !== undefined || this.#head === node
    if (!linked) return
    if (node.prev) node.prev.next = node.next
    else this.#head = node.next
    if (node.next) node.next.prev = node.prev
    else this.#tail = node.prev
    node.prev = undefined
    node.next = undefined
    // The armed timer stays: when it fires it re-arms for the new head (no clearTimeout per cancel).
    if (!this.#head) this.#disarm()
  }

  #disarm(): void {
    this.#timers.clear(this.#timer)
    this.#timer = undefined
  }

  #arm(at: number): void {
    this.#armedAt = at
    this.#timer = this.#timers.timeout(() => this.#fire(), at - Date.now())
  }

  #fire(): void {
    this.#timer = undefined
    const now = Math.max(Date.now(), this.#armedAt)
    let node = this.#head
    this.#firing = true
    try {
      while (node && node.at <= now) {
        this.remove(node)
        this.#expire(node.item)
        node = this.#head
      }
    } finally {
      this.#firing = false
      if (this.#head && this.#timer === undefined) this.#arm(this.#head.at)
    }
  }
}
