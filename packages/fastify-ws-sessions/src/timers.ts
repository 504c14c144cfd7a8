type Handle = ReturnType<typeof setTimeout>

/** Every timer of the plugin goes through here: unref()ed, counted, and cleared on close. */
export class Timers {
  readonly #active = new Set<Handle>()

  get size(): number {
    return this.#active.size
  }

  timeout(fn: () => void, ms: number): Handle {
    const handle: Handle = setTimeout(() => {
      this.#active.delete(handle)
      fn()
    }, ms)
    handle.unref()
    this.#active.add(handle)
    return handle
  }

  interval(fn: () => void, ms: number): Handle {
    const handle: Handle = setInterval(fn, ms)
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
}
