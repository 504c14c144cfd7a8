import type { Writable } from 'node:stream'

/** A session whose socket was corked for the current event-loop turn. */
export interface Corked {
  /** Uncorks the socket: what the turn wrote leaves in one write. */
  flushWrites(): void
}

/**
 * Holds the writes of one event-loop turn: a session corks its TCP socket at its first write (or
 * first frame read) of a turn and joins the batch; one `setImmediate` for the whole registry, run
 * once the turn's I/O callbacks and their promise continuations are done, uncorks them all. So the
 * frames one session gets in a turn (the replies to several requests of one read, an ok reply and
 * an `EMIT` decoded from the same AMQP read, room events) leave in one system call, and a turn
 * costs one scheduled callback, not one closure per session. Nothing waits past the turn that
 * wrote it.
 */
export class WriteBatch {
  #corked: Corked[] = []
  /** Sockets corked before any session had them (an upgrade's `101`, see {@link hold}). */
  #held: Writable[] = []
  #scheduled = false
  readonly #flush = (): void => {
    this.#scheduled = false
    const corked = this.#corked
    const held = this.#held
    this.#corked = []
    if (held.length > 0) this.#held = []
    for (const session of corked) session.flushWrites()
    for (const socket of held) socket.uncork()
  }

  add(session: Corked): void {
    this.#corked.push(session)
    this.#schedule()
  }

  /**
   * Corks `socket` until the end of the turn: what is written on it meanwhile (the upgrade's `101` and
   * the session's first frame) leaves in one write.
   */
  hold(socket: Writable): void {
    if (socket.destroyed) return
    socket.cork()
    this.#held.push(socket)
    this.#schedule()
  }

  #schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    setImmediate(this.#flush)
  }
}
