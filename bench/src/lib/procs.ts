import { type ChildProcess, fork } from 'node:child_process'
import { createWriteStream, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Message } from './ipc.js'

const SRC_DIR = fileURLToPath(new URL('..', import.meta.url))
const live = new Set<ChildProcess>()

/** Where child processes write their stdout/stderr. */
export let logDir = join('/tmp', `bench-logs-${process.pid}`)

export function setLogDir(dir: string): void {
  logDir = dir
}

export interface StartOptions {
  /** A name for logs and errors. */
  name: string
  env?: Record<string, string>
  /** Extra node flags (e.g. --cpu-prof). */
  execArgv?: string[]
  args?: string[]
  /** How long to wait for the child's `ready` message. */
  readyTimeoutMs?: number
}

/** A bench child process (server or load generator) with request/response over IPC. */
export class Child {
  readonly name: string
  readonly process: ChildProcess
  readonly #waiters: Array<{
    type: string
    resolve: (m: Message) => void
    reject: (e: Error) => void
  }> = []
  readonly #listeners: Array<(m: Message) => void> = []
  #exited = false
  readonly #exitPromise: Promise<number | null>

  constructor(name: string, proc: ChildProcess) {
    this.name = name
    this.process = proc
    this.#exitPromise = new Promise((resolve) => {
      proc.once('exit', (code) => {
        this.#exited = true
        live.delete(proc)
        const err = new Error(`${name} exited (code ${String(code)}) before answering`)
        for (const w of this.#waiters.splice(0)) w.reject(err)
        resolve(code)
      })
    })
    proc.on('message', (raw: unknown) => {
      const message = raw as Message
      if (message.type === 'error') {
        const err = new Error(`${name}: ${String(message.message)}`)
        for (const w of this.#waiters.splice(0)) w.reject(err)
        return
      }
      for (const l of this.#listeners) l(message)
      const i = this.#waiters.findIndex((w) => w.type === message.type)
      if (i >= 0) {
        const [w] = this.#waiters.splice(i, 1)
        w?.resolve(message)
      }
    })
  }

  get pid(): number {
    return this.process.pid ?? -1
  }

  /** Calls `listener` for every message of the child; returns a function that removes it. */
  onMessage(listener: (m: Message) => void): () => void {
    this.#listeners.push(listener)
    return () => {
      const i = this.#listeners.indexOf(listener)
      if (i >= 0) this.#listeners.splice(i, 1)
    }
  }

  /** Resolves with the next message of `type` (rejects on timeout, error or exit). */
  next(type: string, timeoutMs = 60_000): Promise<Message> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} has exited`))
    return new Promise((resolve, reject) => {
      const waiter = {
        type,
        resolve: (m: Message) => {
          clearTimeout(timer)
          resolve(m)
        },
        reject: (e: Error) => {
          clearTimeout(timer)
          reject(e)
        },
      }
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter)
        if (i >= 0) this.#waiters.splice(i, 1)
        reject(new Error(`${this.name}: no "${type}" within ${timeoutMs} ms`))
      }, timeoutMs)
      this.#waiters.push(waiter)
    })
  }

  send(command: Message): void {
    if (!this.#exited) this.process.send(command)
  }

  /** Sends a command and waits for the answer of type `replyType`. */
  request(command: Message, replyType: string, timeoutMs?: number): Promise<Message> {
    const answer = this.next(replyType, timeoutMs)
    this.send(command)
    return answer
  }

  /** Asks the child to stop (command `stop`), kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.#exited) return
    this.send({ type: 'stop' })
    const timer = setTimeout(() => this.kill(), graceMs)
    await this.#exitPromise
    clearTimeout(timer)
  }

  kill(): void {
    if (!this.#exited) this.process.kill('SIGKILL')
  }

  whenExited(): Promise<number | null> {
    return this.#exitPromise
  }
}

/** Starts `src/<script>` under tsx as a child process and waits for its `ready` message. */
export async function startChild(
  script: string,
  options: StartOptions,
): Promise<{ child: Child; ready: Message }> {
  mkdirSync(logDir, { recursive: true })
  const log = createWriteStream(join(logDir, `${options.name}.log`))
  const proc = fork(join(SRC_DIR, script), options.args ?? [], {
    execArgv: ['--import', 'tsx', ...(options.execArgv ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  proc.stdout?.pipe(log)
  proc.stderr?.pipe(log)
  live.add(proc)
  const child = new Child(options.name, proc)
  try {
    const ready = await child.next('ready', options.readyTimeoutMs ?? 30_000)
    return { child, ready }
  } catch (err) {
    child.kill()
    throw new Error(
      `${options.name} did not start (log: ${join(logDir, `${options.name}.log`)}): ${String(err)}`,
    )
  }
}

/** Registers a process started elsewhere, so that it is killed with the others. */
export function track(proc: ChildProcess): void {
  live.add(proc)
  proc.once('exit', () => live.delete(proc))
}

/** Kills every child still running (on errors, and as a last resort at exit). */
export function killAll(): void {
  for (const proc of live) proc.kill('SIGKILL')
  live.clear()
}

/** Anything a scenario starts and must stop. */
export interface Stoppable {
  readonly name: string
  stop(): Promise<void>
}

/** Stops the given processes in parallel (graceful, then killed). */
export async function stopAll(children: Array<Stoppable | undefined>): Promise<void> {
  await Promise.all(children.map((c) => c?.stop()))
}

process.once('exit', killAll)
