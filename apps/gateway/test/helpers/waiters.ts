/**
 * Waits on a condition that changes when something arrives: whoever records an arrival calls
 * `wake()`, and each pending `until()` checks its condition again. No polling, no fixed sleep.
 */
export class Waiters {
  #pending: Array<() => void> = []

  wake(): void {
    const pending = this.#pending
    this.#pending = []
    for (const check of pending) check()
  }

  /**
   * Resolves once `check()` holds; rejects after `timeoutMs` naming `what`, or at once with the
   * message `failure()` returns (e.g. the connection closed meanwhile).
   */
  until(
    check: () => boolean,
    timeoutMs: number,
    what: string,
    failure?: () => string | undefined,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const test = () => {
        if (check()) {
          clearTimeout(timer)
          resolve()
          return
        }
        const failed = failure?.()
        if (failed !== undefined) {
          clearTimeout(timer)
          reject(new Error(`${failed} while waiting for ${what}`))
          return
        }
        this.#pending.push(test)
      }
      const timer = setTimeout(() => {
        this.#pending = this.#pending.filter((w) => w !== test)
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      test()
    })
  }
}
