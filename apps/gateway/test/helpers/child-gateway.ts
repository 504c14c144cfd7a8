import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { until } from '@session-gateway/test-kit'
import WebSocket from 'ws'

const mainJs = new URL('../../dist/main.js', import.meta.url).pathname

/** A free TCP port on 127.0.0.1 (released before it is returned: a tiny race, fine on a test machine). */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** The resident set size of a process, in bytes (from /proc), or undefined when it is gone. */
export function rssOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    return match ? Number(match[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/** CPU time (user + system) a process has used, in ms (from /proc; Linux clock ticks of 10 ms), or undefined when it is gone. */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces, inside parentheses): utime is the 14th field.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

/** File descriptors a process has open now (from /proc), or undefined when it is gone. */
export function openFdsOf(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return undefined
  }
}

/** Samples a process's RSS every `intervalMs` and keeps the samples (bounded) and the peak. */
export class RssSampler {
  readonly samples: Array<{ t: number; rss: number }> = []
  peak = 0
  #timer: NodeJS.Timeout | undefined
  readonly #read: () => number | undefined
  readonly #maxSamples: number

  constructor(read: () => number | undefined, intervalMs = 100, maxSamples = 20_000) {
    this.#read = read
    this.#maxSamples = maxSamples
    this.sample()
    this.#timer = setInterval(() => this.sample(), intervalMs)
    this.#timer.unref()
  }

  sample(): number {
    const rss = this.#read() ?? 0
    if (rss > this.peak) this.peak = rss
    if (this.samples.length < this.#maxSamples) this.samples.push({ t: Date.now(), rss })
    return rss
  }

  /** Peak RSS between two instants. */
  peakBetween(from: number, to: number): number {
    let peak = 0
    for (const s of this.samples) if (s.t >= from && s.t <= to && s.rss > peak) peak = s.rss
    return peak
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}

export interface LogLine {
  level: number
  msg?: string
  [key: string]: unknown
}

export interface ChildGateway {
  readonly child: ChildProcess
  readonly pid: number
  readonly port: number
  readonly wsUrl: string
  readonly httpUrl: string
  /** Log lines at warn and above (bounded), as the operator would see them. */
  readonly warnings: LogLine[]
  /** How many log lines had each `level: message`. */
  readonly messageCounts: Map<string, number>
  /** Lines of stderr (uncaught errors, crashes). */
  readonly stderr: string[]
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  rss(): number | undefined
  readyz(): Promise<number | undefined>
  /** A metric's value from /metrics (the first sample whose name and labels match). */
  metric(name: string, labels?: Record<string, string>): Promise<number | undefined>
  /** SIGKILL (if it still runs) and waits for the exit. */
  kill(): Promise<void>
  /**
   * With `inspect: true`: a full garbage collection in the gateway (through its inspector), then
   * its V8 heap in use, in bytes. Tells retained memory from garbage not yet collected.
   */
  heapAfterGc(): Promise<number>
}

/** One call to a process's inspector (Chrome DevTools protocol over its WebSocket). */
async function inspectorCall(
  url: string,
  calls: Array<{ method: string; params?: object }>,
): Promise<unknown[]> {
  const ws = new WebSocket(url)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const results: unknown[] = []
  try {
    for (const [index, call] of calls.entries()) {
      const id = index + 1
      const answer = new Promise<unknown>((resolve, reject) => {
        const onMessage = (data: WebSocket.RawData) => {
          const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: unknown }
          if (message.id !== id) return
          ws.off('message', onMessage)
          if (message.error) reject(new Error(JSON.stringify(message.error)))
          else resolve(message.result)
        }
        ws.on('message', onMessage)
      })
      ws.send(JSON.stringify({ id, ...call }))
      results.push(await answer)
    }
  } finally {
    ws.close()
  }
  return results
}

/**
 * Spawns the built entry point (dist/main.js) on a free loopback port with environment-style
 * configuration, and waits until /readyz answers 200 (or /healthz, with `waitReady: false`).
 */
export async function spawnGateway(
  env: Record<string, string>,
  options: { waitReady?: boolean; readyTimeoutMs?: number; nodeArgs?: string[]; inspect?: boolean } = {},
): Promise<ChildGateway> {
  const port = await freePort()
  const debugArgs = process.env.TEST_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const inspectArgs = options.inspect ? ['--inspect=127.0.0.1:0'] : []
  const child = spawn(process.execPath, [...debugArgs, ...inspectArgs, ...(options.nodeArgs ?? []), mainJs], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      GATEWAY_DEMO_PAGE: 'false',
      LOG_LEVEL: 'info',
      // Off unless a test turns it on: a heartbeat would add to the UM messages tests count.
      GATEWAY_NODE_HEARTBEAT_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const pid = child.pid
  if (pid === undefined) throw new Error('could not spawn the gateway')
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  const warnings: LogLine[] = []
  const messageCounts = new Map<string, number>()
  const stderr: string[] = []
  if (child.stdout) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let parsed: LogLine
      try {
        parsed = JSON.parse(line) as LogLine
      } catch {
        stderr.push(line)
        return
      }
      const level =
        (
          { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<
            number,
            string
          >
        )[parsed.level] ?? String(parsed.level)
      const key = `${level}: ${String(parsed.msg ?? '')}`
      messageCounts.set(key, (messageCounts.get(key) ?? 0) + 1)
      if (parsed.level >= 40 && warnings.length < 5000) warnings.push(parsed)
    })
  }
  let inspectorUrl: string | undefined
  if (child.stderr) {
    createInterface({ input: child.stderr }).on('line', (line) => {
      const inspector = /Debugger listening on (ws:\/\/\S+)/.exec(line)
      if (inspector) inspectorUrl = inspector[1]
      else if (/Debugger attached|Waiting for the debugger|For help, see/.test(line)) return
      else if (stderr.length < 5000) stderr.push(line)
    })
  }
  const httpUrl = `http://127.0.0.1:${port}`
  const gateway: ChildGateway = {
    child,
    pid,
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    httpUrl,
    warnings,
    messageCounts,
    stderr,
    exited,
    rss: () => rssOf(pid),
    async readyz() {
      const response = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(
        () => undefined,
      )
      if (!response) return undefined
      await response.arrayBuffer()
      return response.status
    },
    async metric(name, labels = {}) {
      const response = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
      const text = await response.text()
      for (const line of text.split('\n')) {
        if (!line.startsWith(name)) continue
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
        if (!match || match[1] !== name) continue
        const found = match[2] ?? ''
        if (Object.entries(labels).every(([k, v]) => found.includes(`${k}="${v}"`))) return Number(match[3])
      }
      return undefined
    },
    async heapAfterGc() {
      if (!inspectorUrl) throw new Error('spawn the gateway with { inspect: true }')
      const [, usage] = await inspectorCall(inspectorUrl, [
        { method: 'HeapProfiler.collectGarbage' },
        { method: 'Runtime.getHeapUsage' },
      ])
      return (usage as { usedSize: number }).usedSize
    },
    async kill() {
      // With TEST_GATEWAY_NODE_ARGS (e.g. --cpu-prof), SIGTERM first so that the profile is written.
      if (debugArgs.length > 0 && child.exitCode === null) {
        child.kill('SIGTERM')
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
      }
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
  try {
    const timeout = options.readyTimeoutMs ?? 20_000
    await until(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`gateway exited (${child.exitCode}): ${stderr.join('\n')}`)
        if (options.waitReady === false) {
          const r = await fetch(`${httpUrl}/healthz`).catch(() => undefined)
          return r?.status === 200
        }
        return (await gateway.readyz()) === 200
      },
      { timeoutMs: timeout, what: 'the spawned gateway to be ready' },
    )
  } catch (err) {
    await gateway.kill()
    throw err
  }
  return gateway
}
