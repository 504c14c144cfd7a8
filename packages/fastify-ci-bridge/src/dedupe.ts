/**
 * Remembers the `message_id`s of the last `size` messages handled successfully, so that a copy
 * redelivered after a reconnect is settled without running its handler again.
 *
 * A copy that arrives while the original is still being handled waits for the original's result:
 * `status()` then returns a promise that resolves `true` if the original succeeded.
 */
export class DedupeWindow {
  readonly #done = new Set<string>()
  readonly #inProgress = new Map<string, Promise<boolean>>()
  readonly #size: number

  constructor(size: number) {
    this.#size = size
  }

  status(id: string): 'new' | 'done' | Promise<boolean> {
    if (this.#done.has(id)) return 'done'
    return this.#inProgress.get(id) ?? 'new'
  }

  /** Marks `id` as being handled; call the returned function with the handler's success. */
  begin(id: string): (succeeded: boolean) => void {
    let finish: (succeeded: boolean) => void = () => {}
    const pending = new Promise<boolean>((resolve) => {
      finish = resolve
    })
    this.#inProgress.set(id, pending)
    return (succeeded) => {
      if (this.#inProgress.get(id) === pending) this.#inProgress.delete(id)
      if (succeeded) this.#remember(id)
      finish(succeeded)
    }
  }

  get rememberedCount(): number {
    return this.#done.size
  }

  #remember(id: string): void {
    if (this.#size <= 0) return
    this.#done.delete(id)
    this.#done.add(id)
    while (this.#done.size > this.#size) {
      const oldest = this.#done.values().next().value
      if (oldest === undefined) break
      this.#done.delete(oldest)
    }
  }
}
