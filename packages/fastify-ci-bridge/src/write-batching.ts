import type { Socket } from 'node:net'

const BATCHED = Symbol('fastify-ci-bridge.batchedWrites')

/**
 * rhea writes every AMQP frame with its own `socket.write`, one system call each. This corks the
 * socket at the first write of an event-loop turn and uncorks it once that turn's I/O callbacks have
 * run (`setImmediate`), so that the frames of one turn (transfers for many client events,
 * dispositions for a batch of received messages, credit) leave in one write. On a loaded node the
 * broker then also gets them in one read. A write waits at most for the rest of its turn; `end()`
 * flushes whatever is corked.
 */
export function batchSocketWrites(socket: Socket & { [BATCHED]?: true }): void {
  if (socket[BATCHED]) return
  socket[BATCHED] = true
  const write = socket.write
  let corked = false
  const flush = () => {
    corked = false
    socket.uncork()
  }
  socket.write = function batchedWrite(this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked && !socket.destroyed) {
      corked = true
      socket.cork()
      setImmediate(flush)
    }
    return write.apply(this, args)
  } as Socket['write']
}
