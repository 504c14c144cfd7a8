import { queueMarker, startGateway } from '../lib/gateway.js'
import { connectAll, startLoadgens } from '../lib/loadgens.js'
import { type Stoppable, startChild, stopAll } from '../lib/procs.js'
import { deleteQueuesContaining } from '../lib/rabbitmq.js'
import { bestBy, interleaved } from '../lib/rounds.js'
import { type BenchSettings, figure, type ScenarioResult } from '../lib/types.js'
import { type ReqRepRound, reqRepRound } from '../lib/ws-reqrep.js'

const CONNECTIONS = 100
const IN_FLIGHT = 10

/** B1: GET_SID request/reply, 100 connections x 10 in flight, vs a bare `ws` echo server. */
export async function b1GetSid(settings: BenchSettings): Promise<ScenarioResult> {
  const started = performance.now()
  const children: Array<Stoppable | undefined> = []
  try {
    settings.log('B1: starting the bare ws echo server, the gateway and one load generator for each')
    const { child: echo, ready } = await startChild('servers/bare-ws-server.ts', { name: 'b1-bare-ws' })
    children.push(echo)
    const gw = await startGateway(settings, 'B1')
    children.push(gw.gateway, gw.um)
    const [baseLoadgen] = await startLoadgens('b1-base', 1)
    const [gwLoadgen] = await startLoadgens('b1-gw', 1)
    if (!baseLoadgen || !gwLoadgen) throw new Error('no load generator')
    children.push(baseLoadgen, gwLoadgen)
    for (const [lg, url] of [
      [baseLoadgen, String(ready.wsUrl)],
      [gwLoadgen, gw.wsUrl],
    ] as const) {
      const c = await connectAll([lg], { url }, CONNECTIONS)
      if (c.opened !== CONNECTIONS)
        throw new Error(`B1: ${c.opened}/${CONNECTIONS} connections (${c.firstError})`)
    }

    const command = { type: 'reqrep', mode: 'get-sid', inFlightPerConnection: IN_FLIGHT }
    const timing = { warmupMs: settings.warmupMs, durationMs: settings.durationMs }
    const rounds = await interleaved<ReqRepRound>(
      settings.rounds,
      {
        baseline: () => reqRepRound([baseLoadgen], [echo, baseLoadgen], command, timing),
        gateway: () => reqRepRound([gwLoadgen], [gw.gateway, gwLoadgen], command, timing),
      },
      settings.log,
    )
    const gateway = bestBy(rounds.gateway, (r) => r.msgPerSec)
    const baseline = bestBy(rounds.baseline, (r) => r.msgPerSec)
    return {
      id: 'B1',
      title: `GET_SID request/reply, ${CONNECTIONS} connections x ${IN_FLIGHT} in flight`,
      baseline: 'bare ws echo server (echoes each frame back)',
      figures: [
        figure('B1', 'throughput', 'msg/s', gateway.msgPerSec, baseline.msgPerSec, {
          kind: 'ratio-min',
          value: 0.7,
        }),
        figure('B1', 'latency p50', 'ms', gateway.latency.p50Ms, baseline.latency.p50Ms),
        figure('B1', 'latency p99', 'ms', gateway.latency.p99Ms, baseline.latency.p99Ms),
        figure('B1', 'server CPU', 'cores', gateway.cpu.processes[0] ?? 0, baseline.cpu.processes[0] ?? 0),
      ],
      details: {
        best: { gateway, baseline },
        rounds,
        connections: CONNECTIONS,
        inFlightPerConnection: IN_FLIGHT,
      },
      notes: [],
      durationMs: performance.now() - started,
    }
  } finally {
    await stopAll(children.filter((c) => c?.name.includes('loadgen')))
    await stopAll(children.filter((c) => c && !c.name.includes('loadgen') && !c.name.includes('echo-um')))
    await stopAll(children.filter((c) => c?.name.includes('echo-um')))
    await deleteQueuesContaining(queueMarker(settings, 'B1'))
  }
}
