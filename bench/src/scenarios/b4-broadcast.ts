import { type BroadcastRound, broadcastRound, tickData } from '../lib/broadcast-driver.js'
import { ADMIN_TOKEN, queueMarker, startGateway } from '../lib/gateway.js'
import { connectAll, startLoadgens, waitForSessions } from '../lib/loadgens.js'
import { type Child, type Stoppable, startChild, stopAll } from '../lib/procs.js'
import { deleteQueuesContaining } from '../lib/rabbitmq.js'
import { bestBy, interleaved } from '../lib/rounds.js'
import { ipcServer, type Server } from '../lib/server.js'
import { type BenchSettings, figure, type ScenarioResult } from '../lib/types.js'

const CLIENTS = Number(process.env.BENCH_B4_CLIENTS ?? 10_000)
const LOADGENS_PER_SIDE = 2
/** The server's CPU per frame delivered over the measured window, in µs. */
function cpuPerFrame(round: BroadcastRound): number {
  return ((round.cpu.processes[0] ?? 0) * 1e6) / round.framesPerSec
}

/** Broadcasts incomplete at once. */
const WINDOW = 2

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

/**
 * B4: BROADCAST of a 100-byte event to 10,000 sessions, repeated, vs Socket.IO 4.8 `io.emit` to
 * 10,000 clients. Both are triggered the same way, by an HTTP POST to the server under test (the
 * gateway's admin API `POST /v1/broadcast`, which calls the same `wsSessions.broadcast` as a CI
 * BROADCAST; a small handler calling `io.emit` on the Socket.IO server), so that what is compared is
 * the fan-out and not the trigger. Clients on both sides are bare `ws` clients (Engine.IO v4 framing
 * for Socket.IO), so that both sides' load generators cost the same.
 */
export async function b4Broadcast(settings: BenchSettings): Promise<ScenarioResult> {
  const started = performance.now()
  const children: Array<Stoppable | undefined> = []
  try {
    settings.log('B4: starting Socket.IO and the gateway')
    const { child: sioChild, ready } = await startChild('servers/socketio-server.ts', { name: 'b4-socketio' })
    children.push(sioChild)
    const sio = ipcServer(sioChild)
    const gw = await startGateway(settings, 'B4')
    children.push(gw.gateway, gw.um)
    const baseLoadgens = await startLoadgens('b4-base', LOADGENS_PER_SIDE)
    const gwLoadgens = await startLoadgens('b4-gw', LOADGENS_PER_SIDE)
    children.push(...baseLoadgens, ...gwLoadgens)

    settings.log(`B4: connecting ${CLIENTS} Socket.IO clients`)
    const sioConnect = await connectAll(
      baseLoadgens,
      { url: String(ready.wsUrl), protocol: 'engineio' },
      CLIENTS,
    )
    settings.log(`B4: connecting ${CLIENTS} gateway sessions`)
    const gwConnect = await connectAll(gwLoadgens, { url: gw.wsUrl }, CLIENTS)
    for (const [side, c] of [
      ['socket.io', sioConnect],
      ['gateway', gwConnect],
    ] as const) {
      if (c.opened !== CLIENTS)
        throw new Error(`B4 ${side}: ${c.opened}/${CLIENTS} clients (${c.firstError})`)
    }
    await waitForSessions(sio, (n) => n >= CLIENTS, 10_000)
    await waitForSessions(gw.gateway, (n) => n >= CLIENTS, 10_000)

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
      id: 'B4',
      title: `BROADCAST of a 100-byte event to ${CLIENTS} sessions, repeated (${WINDOW} broadcasts in flight)`,
      baseline: `Socket.IO 4.8 io.emit to ${CLIENTS} clients`,
      figures: [
        figure('B4', 'frames delivered', 'frames/s', gateway.framesPerSec, baseline.framesPerSec, {
          kind: 'ratio-min',
          value: 1.0,
        }),
        figure('B4', 'fan-out p50', 'ms', gateway.fanoutLatency.p50Ms, baseline.fanoutLatency.p50Ms),
        figure('B4', 'server CPU', 'cores', gateway.cpu.processes[0] ?? 0, baseline.cpu.processes[0] ?? 0),
        figure('B4', 'server CPU per delivered frame', 'µs', cpuPerFrame(gateway), cpuPerFrame(baseline), {
          kind: 'ratio-max',
          value: 0.6,
        }),
      ],
      details: { best: { gateway, baseline }, rounds, connect: { gateway: gwConnect, baseline: sioConnect } },
      notes: [],
      durationMs: performance.now() - started,
    }
  } finally {
    await stopAll(children.filter((c) => c?.name.includes('loadgen')))
    await stopAll(children.filter((c) => c && !c.name.includes('loadgen') && !c.name.includes('echo-um')))
    await stopAll(children.filter((c) => c?.name.includes('echo-um')))
    await deleteQueuesContaining(queueMarker(settings, 'B4'))
  }
}
