/** Handlers by name; each `add` returns its own removal. A throwing handler does not stop the others. */
export class Listeners<M> {
  readonly #byName = new Map<keyof M, Set<(value: never) => void>>()
  readonly #onHandlerError: (err: unknown, name: keyof M) => void

  constructor(onHandlerError: (err: unknown, name: keyof M) => void) {
    this.#onHandlerError = onHandlerError
  }

  add<K extends keyof M>(name: K, handler: (value: M[K]) => void): () => void {
    let set = this.#byName.get(name)
    if (!set) {
      set = new Set()
      this.#byName.set(name, set)
    }
    const stored = handler as (value: never) => void
    set.add(stored)
    return () => {
      set.delete(stored)
    }
  }

  has(name: keyof M): boolean {
    return (this.#byName.get(name)?.size ?? 0) > 0
  }

  emit<K extends keyof M>(name: K, value: M[K]): void {
    const set = this.#byName.get(name)
    if (!set) return
    for (const handler of [...set]) {
      try {
        ;(handler as (value: M[K]) => void)(value)
      } catch (err) {
        this.#onHandlerError(err, name)
      }
    }
  }
}
