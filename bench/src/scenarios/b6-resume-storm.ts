import WebSocket from 'ws'
import { ADMIN_TOKEN, gatewayEnv, queueMarker } from '../lib/gateway.js'
import { GatewayProcess } from '../lib/gateway-process.js'
import { freePort } from '../lib/ports.js'
import { CpuMeter, rssBytes } from '../lib/proc-stats.js'
import { startChild, stopAll } from '../lib/procs.js'
import { deleteQueuesContaining } from '../lib/rabbitmq.js'
import { waitForTimeWait } from '../lib/tcp.js'
import { type BenchSettings, figure, type ScenarioResult } from '../lib/types.js'

const SESSIONS = Number(process.env.BENCH_B6_SESSIONS ?? 10_000)
/** Handshakes in progress at once (the same for the resumes and for the baseline's fresh connects). */
const CONCURRENCY = 50
const SECRET = 'bench-resume-storm-secret-0123456789abcdef'

interface Opened {
  ws: WebSocket
  token: string
  resumed: boolean
}

/** Opens one connection (resuming when given a token); resolves with it and its `session` frame. */
function open(url: string, localAddress: string): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress, handshakeTimeout: 30_000 })
    ws.once('error', reject)
    ws.once('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { data: { resumeToken: string; resumed: boolean } }
      ws.removeAllListeners('error')
      ws.on('error', () => {})
      resolve({ ws, token: frame.data.resumeToken, resumed: frame.data.resumed })
    })
  })
}

/** Runs `work(i)` for i < count, `CONCURRENCY` at a time. */
async function pool(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await work(next++)
    }),
  )
}

const source = (i: number) => `127.0.0.${20 + (i % 4)}`

/** Closes with a TCP reset (no TIME_WAIT left on the loopback ports). */
function reset(ws: WebSocket): void {
  const socket = (ws as unknown as { _socket?: { resetAndDestroy?: () => void; destroy: () => void } })
    ._socket
  if (socket?.resetAndDestroy) socket.resetAndDestroy()
  else ws.terminate()
}

/**
 * B6: the resume storm of a rolling deploy. SESSIONS sessions on node A; SIGTERM A (1012 to all); every
 * client resumes at once on node B, CONCURRENCY handshakes at a time. Measured on B: time until every
 * session resumed, CPU per resume, RSS. Baseline, same run, same B: as many fresh connections (new
 * sessions, what a deploy without resume costs the gateway).
 */
export async function b6ResumeStorm(settings: BenchSettings): Promise<ScenarioResult> {
  const started = performance.now()
  const marker = queueMarker(settings, 'B6')
  const { child: um } = await startChild('servers/echo-um.ts', {
    name: 'B6-echo-um',
    env: { ECHO_UM_QUEUE: `${marker}-um` },
  })
  const nodes: GatewayProcess[] = []
  const sockets: WebSocket[] = []
  try {
    const start = async (id: string) => {
      const port = await freePort()
      const node = await GatewayProcess.start({
        name: `B6-gateway-${id}`,
        port,
        env: {
          ...gatewayEnv(settings, 'B6', port),
          GATEWAY_NODE_ID: `${marker}-${id}`,
          SESSION_RESUME_WINDOW_MS: '300000',
          GATEWAY_RESUME_SECRET: SECRET,
          GATEWAY_DRAIN_MS: '120000',
          GATEWAY_NODE_HEARTBEAT_MS: '0',
          SESSION_HEARTBEAT_MS: '0',
          // The shared 20,000 no longer fits the open-file limit: room for the scenario's sessions.
          SESSION_MAX: String(SESSIONS + 100),
        },
        adminToken: ADMIN_TOKEN,
      })
      nodes.push(node)
      return node
    }
    const a = await start('a')
    const b = await start('b')

    settings.log(`B6 baseline: ${SESSIONS} fresh sessions on B`)
    const rssIdle = rssBytes(b.pid)
    let meter = new CpuMeter([b.pid])
    meter.start()
    let t0 = performance.now()
    await pool(SESSIONS, async (i) => {
      sockets.push((await open(b.wsUrl, source(i))).ws)
    })
    const freshMs = performance.now() - t0
    const freshCpu = meter.stop().processes[0] ?? 0
    const rssFresh = rssBytes(b.pid)
    // A normal close ends each session (a reset would leave it detached for the whole window).
    for (const ws of sockets.splice(0)) ws.close(1000)
    while ((await b.sessions()) > 0) await new Promise((r) => setTimeout(r, 200))
    await waitForTimeWait(5000, 60_000)

    settings.log(`B6: ${SESSIONS} sessions on A, then SIGTERM A and every client resumes on B`)
    const tokens: string[] = []
    await pool(SESSIONS, async (i) => {
      const opened = await open(a.wsUrl, source(i))
      tokens[i] = opened.token
      sockets[i] = opened.ws
    })
    const rssBefore = rssBytes(b.pid)
    let resumed = 0
    let refused = 0
    const closed: number[] = []
    const allClosed = new Promise<void>((resolve) => {
      for (const [i, ws] of sockets.entries()) {
        ws.once('close', () => {
          closed.push(i)
          if (closed.length === SESSIONS) resolve()
        })
      }
    })
    meter = new CpuMeter([b.pid])
    meter.start()
    t0 = performance.now()
    const stopping = a.stop(180_000)
    await allClosed
    sockets.length = 0
    await pool(SESSIONS, async (i) => {
      const index = closed[i] as number
      const back = await open(
        `${b.wsUrl}?resume=${encodeURIComponent(tokens[index] as string)}&last_seq=0`,
        source(index),
      )
      sockets.push(back.ws)
      if (back.resumed) resumed++
      else refused++
    })
    const stormMs = performance.now() - t0
    const stormCpu = meter.stop().processes[0] ?? 0
    const rssAfter = rssBytes(b.pid)
    await stopping
    const perMs = (cpuShare: number, ms: number) => (cpuShare * ms) / SESSIONS
    return {
      id: 'B6',
      title: `resume storm: ${SESSIONS} sessions of a SIGTERMed node resumed on another`,
      baseline: 'the same number of fresh connections (new sessions) to the same node',
      figures: [
        figure('B6', 'sessions resumed', '', resumed, SESSIONS),
        figure('B6', 'time until all back', 'ms', stormMs, freshMs),
        figure(
          'B6',
          'CPU per session on the new node',
          'ms',
          perMs(stormCpu, stormMs),
          perMs(freshCpu, freshMs),
        ),
        figure(
          'B6',
          'new node RSS growth',
          'MB',
          (rssAfter - rssBefore) / 2 ** 20,
          (rssFresh - rssIdle) / 2 ** 20,
        ),
      ],
      details: {
        resumed,
        refused,
        stormMs,
        freshMs,
        stormCpu,
        freshCpu,
        rssIdle,
        rssFresh,
        rssBefore,
        rssAfter,
      },
      notes: refused > 0 ? [`${refused} resumes gave a new session`] : [],
      durationMs: performance.now() - started,
    }
  } finally {
    for (const ws of sockets) reset(ws)
    await stopAll(nodes)
    await stopAll([um])
    await deleteQueuesContaining(marker)
  }
}
