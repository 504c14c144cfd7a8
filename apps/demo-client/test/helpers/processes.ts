import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { until } from '@session-gateway/test-kit'

const here = dirname(fileURLToPath(import.meta.url))
export const GATEWAY_DIST = join(here, '../../../gateway/dist')

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** A child process whose output is kept (the last lines), to explain a failure. */
export class Child {
  readonly #lines: string[] = []
  readonly exited: Promise<number | null>

  private constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') this.#lines.push(line)
      this.#lines.splice(0, Math.max(0, this.#lines.length - 80))
    }
    process.stdout?.on('data', keep)
    process.stderr?.on('data', keep)
    this.exited = new Promise((resolve) => process.once('exit', (code) => resolve(code)))
  }

  static start(name: string, script: string, env: Record<string, string>): Child {
    const child = spawn(process.execPath, [script], {
      cwd: GATEWAY_DIST,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    return new Child(name, child)
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null
  }

  output(): string {
    return `--- last output of ${this.name} ---\n${this.#lines.join('\n')}`
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `timeoutMs`. Resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    if (!this.running) return this.process.exitCode
    this.process.kill(signal)
    const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}

/** For `until`: stops the wait as soon as one of `children` has exited, with its output. */
export function exited(children: Child[]): () => string | undefined {
  return () => {
    const dead = children.find((c) => !c.running)
    return dead ? `${dead.name} exited\n${dead.output()}` : undefined
  }
}

/** A gateway node as a child process: `node apps/gateway/dist/main.js`. */
export class GatewayProcess {
  child: Child | undefined
  readonly httpUrl: string
  readonly #extraEnv: () => Record<string, string>

  constructor(
    readonly port: number,
    readonly adminToken: string,
    extraEnv: () => Record<string, string> = () => ({}),
  ) {
    this.#extraEnv = extraEnv
    this.httpUrl = `http://127.0.0.1:${port}`
  }

  async start(): Promise<void> {
    if (!existsSync(join(GATEWAY_DIST, 'main.js'))) {
      throw new Error(`${GATEWAY_DIST}/main.js is missing: build the gateway first (pnpm build)`)
    }
    const child = Child.start(`gateway :${this.port}`, join(GATEWAY_DIST, 'main.js'), {
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(this.port),
      GATEWAY_ADMIN_TOKEN: this.adminToken,
      LOG_LEVEL: 'warn',
      ...this.#extraEnv(),
    })
    this.child = child
    await until(() => this.isReady(), {
      what: `the gateway on port ${this.port} to be ready (GET /readyz 200)`,
      timeoutMs: 20_000,
      intervalMs: 100,
      failure: exited([child]),
    })
  }

  async isReady(): Promise<boolean> {
    try {
      const res = await fetch(`${this.httpUrl}/readyz`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      return res.status === 200
    } catch {
      return false
    }
  }

  /** SIGTERM, and the exit code. */
  async stop(): Promise<number | null> {
    const child = this.child
    this.child = undefined
    return child ? child.stop('SIGTERM') : null
  }

  /** GET /v1/sessions (the admin API). */
  async sessions(): Promise<{ total: number; items: Array<{ sid: string; rooms: string[] }> }> {
    const res = await fetch(`${this.httpUrl}/v1/sessions?limit=1000`, {
      headers: { authorization: `Bearer ${this.adminToken}` },
      signal: AbortSignal.timeout(3000),
    })
    if (res.status !== 200) throw new Error(`GET /v1/sessions: HTTP ${res.status} ${await res.text()}`)
    return (await res.json()) as { total: number; items: Array<{ sid: string; rooms: string[] }> }
  }
}
