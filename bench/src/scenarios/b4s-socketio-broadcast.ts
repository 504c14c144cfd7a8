import { type BroadcastRound, broadcastRound, tickData } from '../lib/broadcast-driver.js'
import { ADMIN_TOKEN, queueMarker, startGateway } from '../lib/gateway.js'
import { connectAll, startLoadgens, waitForSessions } from '../lib/loadgens.js'
import { rssBytes } from '../lib/proc-stats.js'
import { type Child, type Stoppable, startChild, stopAll } from '../lib/procs.js'
import { deleteQueuesContaining } from '../lib/rabbitmq.js'
import { bestBy, interleaved } from '../lib/rounds.js'
import { ipcServer, type Server } from '../lib/server.js'
import { type BenchSettings, figure, type ScenarioResult } from '../lib/types.js'

const CLIENTS = Number(process.env.BENCH_B4_CLIENTS ?? 10_000)
const LOADGENS_PER_SIDE = 2
/** Broadcasts incomplete at once. */
const WINDOW = 2

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${text}`)
  return Number((JSON.parse(text) as { delivered?: unknown }).delivered)
}

/** Connects the clients of one side and returns the server's RSS growth per session (settled 3 s). */
async function connectSide(
  settings: BenchSettings,
  side: string,
  server: Server,
  loadgens: Child[],
  url: string,
): Promise<number> {
  const before = rssBytes(server.pid)
  settings.log(`B4S: connecting ${CLIENTS} ${side} clients (Engine.IO v4 over websocket)`)
  const connect = await connectAll(loadgens, { url, protocol: 'engineio' }, CLIENTS)
  if (connect.opened !== CLIENTS)
    throw new Error(`B4S ${side}: ${connect.opened}/${CLIENTS} (${connect.firstError})`)
  await waitForSessions(server, (n) => n >= CLIENTS, 10_000)
  await sleep(3000)
  return (rssBytes(server.pid) - before) / CLIENTS
}

/**
 * B4S: B4 for Socket.IO sessions. The same 10,000 bare Engine.IO v4 clients and the same HTTP trigger
 * as B4's baseline, once against Socket.IO 4.8 itself (`io.emit`) and once against the gateway's
 * Socket.IO endpoint (GATEWAY_SOCKETIO=true; `POST /v1/broadcast`, the same `wsSessions.broadcast` as
 * a CI BROADCAST), in the same run, rounds alternating. Both sides run engine.io's default heartbeat
 * (the gateway with SESSION_HEARTBEAT_MS=0, whose engine.io then pings every 25 s as Socket.IO does).
 * Also: the RSS each server grows by per idle Socket.IO session.
 */
export async function b4sSocketIoBroadcast(settings: BenchSettings): Promise<ScenarioResult> {
  const started = performance.now()
  const children: Array<Stoppable | undefined> = []
  try {
    settings.log('B4S: starting Socket.IO and the gateway with its Socket.IO endpoint')
    const { child: sioChild, ready } = await startChild('servers/socketio-server.ts', {
      name: 'b4s-socketio',
    })
    children.push(sioChild)
    const sio = ipcServer(sioChild)
    const gw = await startGateway(settings, 'B4S', {
      env: { GATEWAY_SOCKETIO: 'true', SESSION_HEARTBEAT_MS: '0', SESSION_MAX: String(CLIENTS + 1000) },
    })
    children.push(gw.gateway, gw.um)
    const baseLoadgens = await startLoadgens('b4s-base', LOADGENS_PER_SIDE)
    const gwLoadgens = await startLoadgens('b4s-gw', LOADGENS_PER_SIDE)
    children.push(...baseLoadgens, ...gwLoadgens)

    const sioRss = await connectSide(settings, 'Socket.IO', sio, baseLoadgens, String(ready.wsUrl))
    const gwUrl = `${gw.httpUrl.replace('http:', 'ws:')}/socket.io/?EIO=4&transport=websocket`
    const gwRss = await connectSide(settings, 'gateway', gw.gateway, gwLoadgens, gwUrl)

    let round = 0
    const run = (server: Server, loadgens: Child[], trigger: (seq: number) => Promise<void>) =>
      broadcastRound({
        loadgens,
        clients: CLIENTS,
        server,
        trigger,
        window: WINDOW,
        warmupMs: settings.warmupMs,
        durationMs: settings.durationMs,
        firstSeq: 100_000 + 20_000 * round++,
      })
    const checkDelivered = (delivered: number) => {
      if (delivered !== CLIENTS) throw new Error(`broadcast delivered to ${delivered} of ${CLIENTS}`)
    }
    const rounds = await interleaved<BroadcastRound>(
      settings.rounds,
      {
        baseline: () =>
          run(sio, baseLoadgens, async (seq) =>
            checkDelivered(await post(String(ready.broadcastUrl), { event: 'tick', data: tickData(seq) })),
          ),
        gateway: () =>
          run(gw.gateway, gwLoadgens, async (seq) =>
            checkDelivered(
              await post(
                `${gw.httpUrl}/v1/broadcast`,
                { event: 'tick', data: tickData(seq) },
                { authorization: `Bearer ${ADMIN_TOKEN}` },
              ),
            ),
          ),
      },
      settings.log,
    )
    const gateway = bestBy(rounds.gateway, (r) => r.framesPerSec)
    const baseline = bestBy(rounds.baseline, (r) => r.framesPerSec)
    return {
      id: 'B4S',
      title: `BROADCAST of a 100-byte event to ${CLIENTS} Socket.IO sessions (${WINDOW} broadcasts in flight)`,
      baseline: `Socket.IO 4.8 io.emit to ${CLIENTS} clients`,
      figures: [
        figure('B4S', 'frames delivered', 'frames/s', gateway.framesPerSec, baseline.framesPerSec),
        figure('B4S', 'fan-out p50', 'ms', gateway.fanoutLatency.p50Ms, baseline.fanoutLatency.p50Ms),
        figure('B4S', 'server CPU', 'cores', gateway.cpu.processes[0] ?? 0, baseline.cpu.processes[0] ?? 0),
        figure('B4S', 'RSS per idle session', 'KB', gwRss / 1024, sioRss / 1024),
      ],
      details: { best: { gateway, baseline }, rounds, rssPerSession: { gateway: gwRss, baseline: sioRss } },
      notes: [],
      durationMs: performance.now() - started,
    }
  } finally {
    await stopAll(children.filter((c) => c?.name.includes('loadgen')))
    await stopAll(children.filter((c) => c && !c.name.includes('loadgen') && !c.name.includes('echo-um')))
    await stopAll(children.filter((c) => c?.name.includes('echo-um')))
    await deleteQueuesContaining(queueMarker(settings, 'B4S'))
  }
}
