export interface UntilOptions {
  /** Default 5000. */
  timeoutMs?: number
  /** Named in the timeout error. Default 'condition'. */
  what?: string
  /** How often `check` runs. Default 10 ms. */
  intervalMs?: number
  /** Stops the wait at once with this text (a child process died meanwhile, say). */
  failure?: () => string | undefined
}

/**
 * Runs `check` until it holds; rejects after `timeoutMs` naming `what`, or at once when `failure`
 * says why the condition can no longer come. For state a test cannot subscribe to.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 5000, what = 'condition', intervalMs = 10, failure }: UntilOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    const failed = failure?.()
    if (failed !== undefined) throw new Error(`${failed} while waiting for ${what}`)
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
