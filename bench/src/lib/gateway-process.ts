import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { logDir, track } from './procs.js'
import type { Server } from './server.js'

/**
 * The gateway's production entry point, as built by `pnpm build`; BENCH_GATEWAY_MAIN runs another
 * build instead (another checkout's `apps/gateway/dist/main.js`, to compare two commits in turn).
 */
export const GATEWAY_MAIN =
  process.env.BENCH_GATEWAY_MAIN ||
  fileURLToPath(new URL('../../../apps/gateway/dist/main.js', import.meta.url))

/**
 * The gateway as deployed: `node apps/gateway/dist/main.js`, configured by the environment, no
 * loader hooks, stopped with SIGTERM (its graceful shutdown). Ready once `/readyz` answers 200
 * (the broker link is open).
 */
export class GatewayProcess implements Server {
  readonly name: string
  readonly httpUrl: string
  readonly #proc: ChildProcess
  readonly #exited: Promise<void>
  readonly #adminToken: string

  private constructor(name: string, proc: ChildProcess, httpUrl: string, adminToken: string) {
    this.name = name
    this.#proc = proc
    this.httpUrl = httpUrl
    this.#adminToken = adminToken
    this.#exited = new Promise((resolve) => proc.once('exit', () => resolve()))
  }

  static async start(options: {
    name: string
    port: number
    env: Record<string, string>
    adminToken: string
    execArgv?: string[]
  }): Promise<GatewayProcess> {
    mkdirSync(logDir, { recursive: true })
    const log = createWriteStream(join(logDir, `${options.name}.log`))
    const proc = spawn(process.execPath, [...(options.execArgv ?? []), GATEWAY_MAIN], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    proc.stdout?.pipe(log)
    proc.stderr?.pipe(log)
    track(proc)
    const gateway = new GatewayProcess(
      options.name,
      proc,
      `http://127.0.0.1:${options.port}`,
      options.adminToken,
    )
    try {
      await gateway.#waitReady(30_000)
    } catch (err) {
      proc.kill('SIGKILL')
      throw new Error(
        `${options.name} did not get ready (log: ${join(logDir, `${options.name}.log`)}): ${String(err)}`,
      )
    }
    return gateway
  }

  get pid(): number {
    return this.#proc.pid ?? -1
  }

  get wsUrl(): string {
    return `${this.httpUrl.replace('http:', 'ws:')}/ws`
  }

  async #waitReady(maxMs: number): Promise<void> {
    const until = performance.now() + maxMs
    let last = 'no answer'
    while (performance.now() < until) {
      if (this.#proc.exitCode !== null) throw new Error(`exited with ${this.#proc.exitCode}`)
      try {
        const response = await fetch(`${this.httpUrl}/readyz`)
        if (response.status === 200) return
        last = `readyz ${response.status}`
      } catch (err) {
        last = String((err as Error).message)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(last)
  }

  /** Sessions of the node, from the admin API (`total` of GET /v1/sessions). */
  async sessions(): Promise<number> {
    const response = await fetch(`${this.httpUrl}/v1/sessions?limit=1`, {
      headers: { authorization: `Bearer ${this.#adminToken}` },
    })
    if (!response.ok) throw new Error(`GET /v1/sessions: ${response.status}`)
    return Number(((await response.json()) as { total: number }).total)
  }

  /** SIGTERM (graceful: sessions closed with 1001, links closed), SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return
    this.#proc.kill('SIGTERM')
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), graceMs)
    await this.#exited
    clearTimeout(timer)
  }
}
