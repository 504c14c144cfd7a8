/** The child side of the bench's IPC: typed messages to the parent, commands from it. */

export type Message = { type: string } & Record<string, unknown>

/** Sends a message to the parent process (no-op without an IPC channel). */
export function toParent(message: Message): void {
  process.send?.(message)
}

/**
 * Calls `handler` for every command the parent sends. A child exits when its parent goes away
 * (IPC channel closed), so that no bench process is ever left behind.
 */
export function onCommand(handler: (command: Message) => void | Promise<void>): void {
  process.on('message', (raw: unknown) => {
    const command = raw as Message
    Promise.resolve()
      .then(() => handler(command))
      .catch((err: unknown) => {
        toParent({ type: 'error', message: (err as Error)?.stack ?? String(err) })
      })
  })
  process.on('disconnect', () => process.exit(0))
}

/** Reports a fatal error to the parent, then exits. */
export function failAndExit(err: unknown): never {
  toParent({ type: 'error', message: (err as Error)?.stack ?? String(err) })
  process.exit(1)
}
