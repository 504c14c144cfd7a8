import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { FD_RESERVE } from '../../src/config/connection-budget.js'
import { AckClient } from '../helpers/ack-client.js'
import { deleteQueues, unique } from '../helpers/broker.js'
import { type ChildGateway, cpuMsOf, openFdsOf, RssSampler, spawnGateway } from '../helpers/child-gateway.js'
import { BROKER_URL, FakeUserManager } from '../helpers/fake-user-manager.js'
import type { SlowClientsReport, SlowClientsSpec } from '../helpers/slow-clients-main.js'

const slowClientsMain = new URL('../helpers/slow-clients-main.ts', import.meta.url).pathname
const ADMIN_TOKEN = 'attack-test-admin-token-0123456789'

export interface ConnectionAttackParams {
  /** Attacker processes, and the loopback source addresses of each (127.0.<block>.<n>). */
  processes: number
  sourcesPerProcess: number
  /** Connections each source keeps open (topped up every 100 ms as the server closes them). */
  perSource: number
  /** New connections per second each process opens at most (a slow attack holds, it does not flood). */
  opensPerSecond: number
  /** Connections each process opens at most. */
  totalPerProcess: number
  durationMs: number
  headersTimeoutMs: number
  requestTimeoutMs: number
  maxPendingPerAddress: number
  /** Legitimate clients, started one after the other over the attack; each sends `events` acked events. */
  clients: number
  events: number
  /** A legitimate client's connect (TCP, upgrade, GET_SID answered) must take at most this. */
  connectBoundMs: number
  /** How much later than its timeout the server may close an attack connection. */
  closeSlackMs: number
  rssBoundBytes: number
  /** Gateway CPU time during the attack per attack connection opened, at most. */
  cpuMsPerConnectionBound: number
  /** First octet-3 block of the source addresses (127.0.<block>.x), so that runs do not share addresses. */
  sourceBlock: number
  /** GATEWAY_MAX_CONNECTIONS, when the run is meant to fill it (then evictions are expected). */
  maxConnections?: number
}

export interface ConnectionAttackReport {
  attackConnections: number
  peakAttackOpen: number
  attackers: SlowClientsReport[]
  clients: { ok: number; failed: string[]; connectMs: { p50: number; p99: number; max: number } }
  /** Connects before the attack, on the same machine at the same time. */
  baselineConnectMs: { p50: number; max: number }
  eventLoopLagMaxMs: { before: number; after: number }
  readyz: { polls: number; not200: number }
  rssMb: { before: number; peak: number }
  cpuMs: number
  cpuMsPerConnection: number
  peakFds: number
  refused: Record<string, number | undefined>
  warnLines: Record<string, number>
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

interface Attacker {
  /** Starts the attack; resolves with the attacker's report once it exited. */
  go(): Promise<SlowClientsReport>
}

/** Spawns an attacker process and resolves once it is ready to start (its start-up is CPU-heavy). */
async function spawnAttacker(spec: SlowClientsSpec, children: ChildProcess[]): Promise<Attacker> {
  const child = spawn(process.execPath, ['--import', 'tsx', slowClientsMain], {
    env: { PATH: process.env.PATH ?? '', SLOW_CLIENTS: JSON.stringify(spec) },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  children.push(child)
  const exited = once(child, 'exit') as Promise<[number | null]>
  const lines: string[] = []
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line)
      if (line === 'ready') resolve()
    })
    exited.then(([code]) => reject(new Error(`the attacker exited (${code}) before it was ready`)))
  })
  await ready
  return {
    async go() {
      child.stdin.end('go\n')
      const [code] = await exited
      assert.equal(code, 0, 'the attacker process exits 0')
      return JSON.parse(lines.at(-1) ?? '{}') as SlowClientsReport
    },
  }
}

/** One legitimate client: connect, learn the SID, send acked events, close. */
async function legitimateClient(url: string, events: number): Promise<{ connectMs: number }> {
  const t0 = performance.now()
  const client = await AckClient.open(url, 10_000)
  const connectMs = performance.now() - t0
  try {
    const records = Array.from({ length: events }, (_, i) => client.send('attack.legit', { i }))
    await client.waitFor(
      () => records.every((r) => r.outcome !== undefined),
      10_000,
      'the events acknowledged',
    )
    const bad = records.filter((r) => r.outcome !== 'ok')
    if (bad.length > 0) throw new Error(`events answered ${bad.map((r) => r.outcome).join(',')}`)
  } finally {
    client.close()
  }
  return { connectMs }
}

/**
 * Idle partial-header connections, dribbled headers, slow bodies and silent connections from several
 * loopback source addresses, in separate processes, against the built gateway over the real broker,
 * while legitimate clients connect and exchange acked events: every attack connection is closed by the
 * server within its timeout (or refused at once past the per-address cap), the legitimate clients get
 * through, the node stays ready, its memory and CPU stay bounded.
 */
export async function runConnectionAttack(
  params: ConnectionAttackParams,
  log: (line: string) => void,
): Promise<ConnectionAttackReport> {
  const umQueue = unique('attack-um')
  const nodeId = unique('attack-node')
  let um: FakeUserManager | undefined
  let gw: ChildGateway | undefined
  let rss: RssSampler | undefined
  const children: ChildProcess[] = []
  try {
    um = await FakeUserManager.start(`/queue/${umQueue}`)
    gw = await spawnGateway({
      AMQP_URL: BROKER_URL,
      UM_ADDRESS: `/queue/${umQueue}`,
      BROADCAST_ADDRESS: `/topic/${unique('attack-bc')}`,
      GATEWAY_NODE_ID: nodeId,
      GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      GATEWAY_HEADERS_TIMEOUT_MS: String(params.headersTimeoutMs),
      GATEWAY_REQUEST_TIMEOUT_MS: String(params.requestTimeoutMs),
      GATEWAY_MAX_PENDING_PER_ADDRESS: String(params.maxPendingPerAddress),
      ...(params.maxConnections ? { GATEWAY_MAX_CONNECTIONS: String(params.maxConnections) } : {}),
      LOG_LEVEL: 'warn',
    })
    const gateway = gw
    rss = new RssSampler(() => gateway.rss(), 100)
    const rssBefore = rss.sample()
    let peakFds = 0
    const fdTimer = setInterval(() => {
      peakFds = Math.max(peakFds, openFdsOf(gateway.pid) ?? 0)
    }, 200)
    const spawned = await Promise.all(
      Array.from({ length: params.processes }, (_, p) =>
        spawnAttacker(
          {
            port: gateway.port,
            sources: Array.from(
              { length: params.sourcesPerProcess },
              (_, i) =>
                `127.0.${params.sourceBlock + Math.floor((p * params.sourcesPerProcess + i) / 250)}.${((p * params.sourcesPerProcess + i) % 250) + 2}`,
            ),
            perSource: params.perSource,
            opensPerTick: Math.max(1, Math.round(params.opensPerSecond / 10)),
            total: params.totalPerProcess,
            durationMs: params.durationMs,
            topUpEveryMs: 100,
            dribbleEveryMs: Math.max(100, Math.floor(params.headersTimeoutMs / 10)),
            graceMs: params.requestTimeoutMs + params.closeSlackMs + 5000,
            adminToken: ADMIN_TOKEN,
          },
          children,
        ),
      ),
    )
    // Legitimate connects before the attack: what this machine gives now, for the report.
    const baseline: number[] = []
    for (let i = 0; i < 10; i++)
      baseline.push((await legitimateClient(gateway.wsUrl, params.events)).connectMs)
    baseline.sort((a, b) => a - b)
    const lagBefore = await gateway.metric('nodejs_eventloop_lag_max_seconds')
    const cpuBefore = cpuMsOf(gateway.pid) ?? 0
    const attackers = spawned.map((a) => a.go())

    let attacking = true
    const readyz = { polls: 0, not200: 0 }
    const readiness = (async () => {
      while (attacking) {
        const status = await gateway.readyz()
        readyz.polls++
        if (status !== 200) readyz.not200++
        await new Promise((r) => setTimeout(r, 250))
      }
    })()
    // The legitimate population arrives over the attack, one client every `gap` ms.
    const gap = params.durationMs / params.clients
    const outcomes = await Promise.all(
      Array.from({ length: params.clients }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * gap))
        return legitimateClient(gateway.wsUrl, params.events).then(
          (r) => ({ ok: true as const, ...r }),
          (err: unknown) => ({ ok: false as const, error: (err as Error).message }),
        )
      }),
    )
    const reports = await Promise.all(attackers)
    attacking = false
    await readiness
    clearInterval(fdTimer)
    const cpuMs = (cpuMsOf(gateway.pid) ?? 0) - cpuBefore
    const lagMax = await gateway.metric('nodejs_eventloop_lag_max_seconds')
    rss.stop()

    const connectMs = outcomes
      .filter((o) => o.ok)
      .map((o) => o.connectMs)
      .sort((a, b) => a - b)
    const failed = outcomes.flatMap((o) => (o.ok ? [] : [o.error]))
    const attackConnections = reports.reduce((n, r) => n + r.opened, 0)
    const refused: Record<string, number | undefined> = {}
    for (const reason of [
      'headers_timeout',
      'body_timeout',
      'max_connections',
      'max_connections_evicted',
      'per_address',
    ]) {
      refused[reason] = await gateway.metric('gateway_connections_refused_total', { reason })
    }
    const warnLines: Record<string, number> = {}
    for (const [key, n] of gateway.messageCounts) if (key.startsWith('warn: connection')) warnLines[key] = n
    const report: ConnectionAttackReport = {
      attackConnections,
      peakAttackOpen: reports.reduce((n, r) => n + r.peakOpen, 0),
      attackers: reports,
      clients: {
        ok: connectMs.length,
        failed: failed.slice(0, 10),
        connectMs: {
          p50: Math.round(percentile(connectMs, 50)),
          p99: Math.round(percentile(connectMs, 99)),
          max: Math.round(connectMs.at(-1) ?? 0),
        },
      },
      baselineConnectMs: {
        p50: Math.round(percentile(baseline, 50)),
        max: Math.round(baseline.at(-1) ?? 0),
      },
      eventLoopLagMaxMs: {
        before: Math.round((lagBefore ?? 0) * 1000),
        after: Math.round((lagMax ?? 0) * 1000),
      },
      readyz,
      rssMb: { before: Math.round(rssBefore / 1e5) / 10, peak: Math.round(rss.peak / 1e5) / 10 },
      cpuMs,
      cpuMsPerConnection: Math.round((cpuMs / Math.max(1, attackConnections)) * 1000) / 1000,
      peakFds,
      refused,
      warnLines,
    }
    log(JSON.stringify(report))

    // Legitimate clients: at least 99 % connect and get every event acknowledged, each connect in bound.
    assert.ok(
      connectMs.length >= Math.ceil(params.clients * 0.99),
      `${connectMs.length} of ${params.clients} clients got through: ${failed.slice(0, 5).join('; ')}`,
    )
    assert.ok(
      report.clients.connectMs.max <= params.connectBoundMs,
      `slowest connect ${report.clients.connectMs.max} ms`,
    )
    // Every attack connection was closed by the server: the timed-out ones within their timeout.
    for (const r of reports) {
      assert.deepEqual(r.connectErrors, {}, 'every attack connection was accepted by the kernel')
      for (const [kind, k] of Object.entries(r.byKind)) {
        assert.equal(k.leftOpen, 0, `${kind}: connections the server never closed`)
        const timeout = kind === 'slowBody' ? params.requestTimeoutMs : params.headersTimeoutMs
        assert.ok(
          k.maxTimedOutMs <= timeout + params.closeSlackMs,
          `${kind}: a timed-out connection lived ${Math.round(k.maxTimedOutMs)} ms (timeout ${timeout} ms)`,
        )
        assert.ok(
          k.maxSilentMs <= timeout + params.closeSlackMs,
          `${kind}: a connection closed without an answer lived ${Math.round(k.maxSilentMs)} ms`,
        )
      }
    }
    assert.ok((refused.headers_timeout ?? 0) > 0, 'headers timeouts counted')
    assert.ok((refused.body_timeout ?? 0) > 0, 'body timeouts counted')
    // The log says it, throttled: a line per kind per 10 s window (and its summary), not one per connection.
    const windows =
      Math.ceil((params.durationMs + params.requestTimeoutMs + params.closeSlackMs) / 10_000) + 1
    for (const [key, n] of Object.entries(warnLines)) assert.ok(n <= 2 * windows, `${n} lines of "${key}"`)
    assert.ok(
      Object.keys(warnLines).some((k) => k.includes('GATEWAY_HEADERS_TIMEOUT_MS')),
      'the headers timeout is in the log',
    )
    // The node stayed ready and alive, within its memory and CPU bounds.
    assert.equal(readyz.not200, 0, 'readiness stayed 200')
    assert.ok(readyz.polls > 0)
    assert.ok(rss.peak <= params.rssBoundBytes, `RSS peak ${report.rssMb.peak} MB`)
    assert.ok(
      report.cpuMsPerConnection <= params.cpuMsPerConnectionBound,
      `${report.cpuMsPerConnection} ms of gateway CPU per attack connection`,
    )
    if (params.maxConnections) {
      // The node was full: it made room by closing the oldest pending connections, and its descriptors
      // stayed within the cap plus what it keeps for itself, below the process's limit.
      assert.ok((refused.max_connections_evicted ?? 0) > 0, 'evictions at GATEWAY_MAX_CONNECTIONS')
      assert.ok(peakFds <= params.maxConnections + FD_RESERVE, `peak descriptors ${peakFds}`)
    }
    assert.equal(gateway.child.exitCode, null)
    assert.deepEqual(gateway.stderr, [])
    return report
  } finally {
    rss?.stop()
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    await gw?.kill()
    await um?.close()
    await deleteQueues([umQueue, `gateway.node.${nodeId}`, ...(um ? [um.replyQueue] : [])])
  }
}
