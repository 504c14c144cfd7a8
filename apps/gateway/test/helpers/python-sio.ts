import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(new URL('./python-sio-client.py', import.meta.url))
const PYTHON = '/usr/bin/python3'

/** Why python-socketio cannot run here (Debian's python3-socketio and python3-requests), or undefined. */
export function pythonSocketIoMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import socketio, requests, websocket'], { encoding: 'utf8' })
  return probe.status === 0
    ? undefined
    : `python-socketio not usable: ${probe.stderr || probe.error?.message}`
}

/** One line the Python client printed. */
export type PyLine = Record<string, unknown>

/** The Python Socket.IO client as a child process: JSON lines out, commands in. */
export class PythonSioClient {
  readonly lines: PyLine[] = []
  readonly #child: ChildProcessWithoutNullStreams
  #waiters: Array<() => void> = []
  #stderr = ''

  constructor(url: string, token: string, transports: string) {
    this.#child = spawn(PYTHON, [SCRIPT, url, token, transports])
    let buffered = ''
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk
      let nl = buffered.indexOf('\n')
      while (nl >= 0) {
        this.lines.push(JSON.parse(buffered.slice(0, nl)) as PyLine)
        buffered = buffered.slice(nl + 1)
        nl = buffered.indexOf('\n')
      }
      const waiters = this.#waiters
      this.#waiters = []
      for (const wake of waiters) wake()
    })
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk
    })
  }

  /** The first line matching `predicate` (fails after `timeoutMs`, with the client's stderr). */
  waitFor(predicate: (line: PyLine) => boolean, what: string, timeoutMs = 10_000): Promise<PyLine> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`python client: timed out waiting for ${what}\n${this.#stderr}`)),
        timeoutMs,
      )
      const check = () => {
        const found = this.lines.find(predicate)
        if (found) {
          clearTimeout(timer)
          resolve(found)
        } else this.#waiters.push(check)
      }
      check()
    })
  }

  send(command: Record<string, unknown>): void {
    this.#child.stdin.write(`${JSON.stringify(command)}\n`)
  }

  /** Ends the process (it disconnects first when asked to). */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    this.#child.stdin.end()
    const timer = setTimeout(() => this.#child.kill(), 5000)
    await exited
    clearTimeout(timer)
  }
}
