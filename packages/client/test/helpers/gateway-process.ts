import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const GATEWAY_DIST = join(dirname(fileURLToPath(import.meta.url)), '../../../../apps/gateway/dist')

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** `until(check)`: polls every 20 ms; throws `what` (with `explain()`) after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  explain: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${explain()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A process of `apps/gateway/dist` (the gateway, or the demo User Manager), its output kept. */
export class NodeProcess {
  #output = ''
  readonly #child: ChildProcess

  private constructor(
    readonly name: string,
    child: ChildProcess,
  ) {
    this.#child = child
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-8000)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
  }

  static start(name: string, script: string, env: Record<string, string>): NodeProcess {
    const path = join(GATEWAY_DIST, script)
    if (!existsSync(path)) throw new Error(`${path} is missing: build the gateway first (pnpm build)`)
    const child = spawn(process.execPath, [path], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    return new NodeProcess(name, child)
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null
  }

  explain(): string {
    return `--- ${this.name} ---\n${this.#output}`
  }

  async stop(): Promise<void> {
    if (!this.running) return
    const exited = once(this.#child, 'exit')
    this.#child.kill('SIGTERM')
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }
}

/** A gateway node on a free port, ready (GET /readyz 200), with its admin API. */
export class GatewayNode {
  readonly #adminToken: string

  private constructor(
    readonly process: NodeProcess,
    readonly port: number,
    adminToken: string,
  ) {
    this.#adminToken = adminToken
  }

  static async start(env: Record<string, string>): Promise<GatewayNode> {
    const port = await freePort()
    const adminToken = `admin-${port}-${Date.now()}`
    const proc = NodeProcess.start(`gateway :${port}`, 'main.js', {
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      GATEWAY_ADMIN_TOKEN: adminToken,
      ...env,
    })
    const node = new GatewayNode(proc, port, adminToken)
    await until(
      async () => {
        if (!proc.running) throw new Error(`the gateway exited\n${proc.explain()}`)
        return (await node.http('GET', '/readyz').catch(() => undefined))?.status === 200
      },
      'the gateway to be ready',
      20_000,
      () => proc.explain(),
    )
    return node
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`
  }

  /** An admin API call. */
  async http(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.#adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(3000),
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) }
  }

  /** The admin view of a session: undefined when the node does not hold it. */
  async session(sid: string): Promise<{ detached?: boolean; rooms: string[] } | undefined> {
    const res = await this.http('GET', `/v1/sessions/${sid}`)
    return res.status === 200 ? (res.body as { detached?: boolean; rooms: string[] }) : undefined
  }

  stop(): Promise<void> {
    return this.process.stop()
  }
}
