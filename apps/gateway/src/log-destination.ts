import { writeSync } from 'node:fs'

/** How long one log line may wait for a full pipe before it is dropped (the node keeps serving). */
const MAX_WAIT_MS = 100
const pause = new Int32Array(new SharedArrayBuffer(4))

/** Where the gateway's log lines go (what pino needs of a stream). */
export interface LogDestination {
  write(line: string): void
}

/**
 * The gateway's log output: each line written synchronously to `fd` (stdout), so every line is
 * out before the process exits and there is no exit-time flush. That flush is what hung a node on
 * SIGTERM once its log reader had died: pino's default destination flushes its buffer at exit
 * with a loop that retries a broken pipe forever, and no later signal can interrupt it. Here a
 * broken pipe ends logging at once; a pipe that stays full drops the line after a short wait, so a
 * slow log collector cannot stall the sessions for long.
 */
export function createLogDestination(fd = 1): LogDestination {
  // Set once the reader is gone (EPIPE and the like): nothing more is written.
  let broken = false
  return {
    write(line: string) {
      if (broken) return
      const bytes = Buffer.from(line)
      let offset = 0
      let waited = 0
      while (offset < bytes.length) {
        try {
          offset += writeSync(fd, bytes, offset)
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code
          if ((code === 'EAGAIN' || code === 'EBUSY') && waited < MAX_WAIT_MS) {
            Atomics.wait(pause, 0, 0, 1)
            waited++
            continue
          }
          if (code !== 'EAGAIN' && code !== 'EBUSY') broken = true
          return // the line is dropped
        }
      }
    },
  }
}
