import { queueMarker, startGateway } from '../lib/gateway.js'
import { type ConnectSummary, connectAll, resetAll, startLoadgens, waitForSessions } from '../lib/loadgens.js'
import { CpuMeter, type CpuShares, rssBytes } from '../lib/proc-stats.js'
import { startChild, stopAll } from '../lib/procs.js'
import { deleteQueuesContaining } from '../lib/rabbitmq.js'
import { ipcServer, type Server } from '../lib/server.js'
import { timeWaitCount, waitForTimeWait } from '../lib/tcp.js'
import { type BenchSettings, figure, type ScenarioResult } from '../lib/types.js'

const TARGET_SESSIONS = Number(process.env.BENCH_B3_SESSIONS ?? 19_000)
const LOADGENS = 4
/** Handshakes in progress at once, per load generator. */
const CONCURRENCY = 50

interface IdleResult {
  sessions: number
  connect: ConnectSummary
  connectPerSec: number
  /** CPU while connecting: [server, load generators...], and the rest of the machine. */
  connectCpu: CpuShares
  rssBeforeBytes: number
  rssAfterBytes: number
  rssPerSessionBytes: number
  closedInMs: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Connects TARGET_SESSIONS idle sessions from 4 processes and 4 source addresses; measures RSS and connect rate. */
async function holdIdle(
  settings: BenchSettings,
  server: Server,
  url: string,
  prefix: string,
): Promise<IdleResult> {
  const loadgens = await startLoadgens(prefix, LOADGENS)
  try {
    await sleep(1000)
    const rssBefore = rssBytes(server.pid)
    settings.log(`  ${prefix}: connecting ${TARGET_SESSIONS} sessions`)
    const cpu = new CpuMeter([server.pid, ...loadgens.map((l) => l.pid)])
    cpu.start()
    const connect = await connectAll(
      loadgens,
      { url, concurrency: CONCURRENCY, localAddresses: (i) => [`127.0.0.${10 + i}`] },
      TARGET_SESSIONS,
    )
    const connectCpu = cpu.stop()
    const sessions = await waitForSessions(server, (n) => n >= connect.opened, 10_000)
    // The same settling time on both sides; no forced GC (the gateway runs its production entry point).
    await sleep(3000)
    const rssAfter = rssBytes(server.pid)
    settings.log(`  ${prefix}: ${sessions} sessions, closing them with TCP resets`)
    const closeStart = performance.now()
    await resetAll(loadgens)
    await waitForSessions(server, (n) => n === 0, 60_000)
    return {
      sessions,
      connect,
      connectPerSec: connect.opened / (connect.elapsedMs / 1000),
      connectCpu,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      rssPerSessionBytes: (rssAfter - rssBefore) / Math.max(1, sessions),
      closedInMs: performance.now() - closeStart,
    }
  } finally {
    await stopAll(loadgens)
  }
}

/** B3: idle sessions, RSS per session and connect rate, vs a bare `ws` server holding the same count. */
export async function b3IdleSessions(settings: BenchSettings): Promise<ScenarioResult> {
  const started = performance.now()
  const timeWaitAtStart = timeWaitCount()
  let baseline: IdleResult
  settings.log('B3 baseline: bare ws server')
  const { child: bare, ready } = await startChild('servers/bare-ws-server.ts', { name: 'b3-bare-ws' })
  try {
    baseline = await holdIdle(settings, ipcServer(bare), String(ready.wsUrl), 'b3-base')
  } finally {
    await bare.stop()
  }
  const timeWaitBetween = await waitForTimeWait(5000, 60_000)

  settings.log('B3 gateway')
  let gateway: IdleResult
  const gw = await startGateway(settings, 'B3')
  try {
    gateway = await holdIdle(settings, gw.gateway, gw.wsUrl, 'b3-gw')
  } finally {
    await stopAll([gw.gateway])
    await stopAll([gw.um])
    await deleteQueuesContaining(queueMarker(settings, 'B3'))
  }
  const kb = (b: number) => b / 1024
  const notes: string[] = []
  for (const [side, r] of [
    ['gateway', gateway],
    ['baseline', baseline],
  ] as const) {
    if (r.sessions < TARGET_SESSIONS) {
      notes.push(
        `${side}: ${r.sessions} of ${TARGET_SESSIONS} sessions (${r.connect.failed} failed: ${r.connect.firstError})`,
      )
    }
  }
  return {
    id: 'B3',
    title: `${TARGET_SESSIONS} idle sessions`,
    baseline: 'bare ws server holding the same number of connections',
    figures: [
      figure('B3', 'sessions held', '', gateway.sessions, baseline.sessions),
      figure('B3', 'RSS per session', 'KB', kb(gateway.rssPerSessionBytes), kb(baseline.rssPerSessionBytes), {
        kind: 'absolute-max',
        value: 10,
      }),
      figure('B3', 'connect rate', 'conn/s', gateway.connectPerSec, baseline.connectPerSec),
    ],
    details: { gateway, baseline, timeWait: { atStart: timeWaitAtStart, between: timeWaitBetween } },
    notes,
    durationMs: performance.now() - started,
  }
}
