import type { Socket } from 'node:net'

const BATCHED = Symbol('fastify-ci-bridge.batchedWrites')

/**
 * Bytes a hold keeps corked before it ends early: a hold bounds how long a write waits, this bounds
 * how much it gathers (at high rates the hold ends by size, well before its time), so one write
 * stays one read's worth for the broker.
 */
export const LINGER_MAX_BYTES = 64 * 1024

/** The write batching of one socket (see {@link batchSocketWrites}). */
export interface WriteBatching {
  /**
   * Holds what is written on the socket from now on for up to `ms` (instead of to the end of the
   * turn), so that writes of the next turns leave in the same system call, or until more than
   * {@link LINGER_MAX_BYTES} are held. No-op while a hold runs.
   */
  linger(ms: number): void
}

/**
 * rhea writes every AMQP frame with its own `socket.write`, one system call each. This corks the
 * socket at the first write of an event-loop turn and uncorks it once that turn's I/O callbacks have
 * run (`setImmediate`), so that the frames of one turn (transfers for many client events,
 * dispositions for a batch of received messages, credit) leave in one write. On a loaded node the
 * broker then also gets them in one read. A write waits at most for the rest of its turn, or, during
 * a `linger(ms)` asked for by a send that may wait (`SendOptions.coalesceMs`), until that hold ends;
 * `end()` flushes whatever is corked, held or not (a hold that ends after it uncorks nothing).
 */
export function batchSocketWrites(socket: Socket & { [BATCHED]?: WriteBatching }): WriteBatching {
  const existing = socket[BATCHED]
  if (existing) return existing
  const write = socket.write
  let corked = false
  let hold: ReturnType<typeof setTimeout> | undefined
  const uncork = () => {
    corked = false
    socket.uncork()
  }
  // End of the turn: what it wrote leaves, unless a hold keeps it for the hold's end.
  const flush = () => {
    if (hold === undefined && corked) uncork()
  }
  const endHold = () => {
    hold = undefined
    if (corked) uncork()
  }
  const cork = () => {
    corked = true
    socket.cork()
    setImmediate(flush)
  }
  socket.write = function batchedWrite(this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked && !socket.destroyed) cork()
    const written = write.apply(this, args)
    if (hold !== undefined && socket.writableLength > LINGER_MAX_BYTES) {
      clearTimeout(hold)
      endHold()
    }
    return written
  } as Socket['write']
  const batching: WriteBatching = {
    linger(ms) {
      if (hold !== undefined || socket.destroyed) return
      hold = setTimeout(endHold, ms)
      if (!corked) cork()
    },
  }
  socket[BATCHED] = batching
  return batching
}
