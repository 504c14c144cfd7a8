import type { Child } from './procs.js'

/** A server under test, whatever runs it: what the scenarios measure and stop. */
export interface Server {
  readonly name: string
  readonly pid: number
  /** Sessions (connections) the server holds now. */
  sessions(): Promise<number>
  stop(): Promise<void>
}

/** A bench server child (bare ws, Socket.IO) answering the `stats` command. */
export function ipcServer(child: Child): Server {
  return {
    name: child.name,
    get pid() {
      return child.pid
    },
    async sessions() {
      const stats = await child.request({ type: 'stats' }, 'stats')
      return Number(stats.sessions)
    },
    stop: () => child.stop(),
  }
}
