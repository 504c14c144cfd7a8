import { onCommand, toParent } from './ipc.js'

export interface ServerControl {
  /** Open sessions / connections the server holds now. */
  sessions(): number
  /** Graceful stop; the process exits after it. */
  stop(): Promise<void>
}

/** The commands every bench server answers: `stats`, `stop`. */
export function serveCommands(control: ServerControl): void {
  onCommand(async (command) => {
    switch (command.type) {
      case 'stats': {
        const memory = process.memoryUsage()
        toParent({ type: 'stats', sessions: control.sessions(), memory: { ...memory } })
        return
      }
      case 'stop':
        await control.stop()
        process.exit(0)
        return
      default:
        toParent({ type: 'error', message: `unknown command ${command.type}` })
    }
  })
}
