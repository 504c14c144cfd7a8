import { queueMarker, startGateway } from '../lib/gateway.js'
import { connectAll, startLoadgens } from '../lib/loadgens.js'
import { type Stoppable, startChild, stopAll } from '../lib/procs.js'
import { brokerPid, deleteQueuesContaining } from '../lib/rabbitmq.js'
import { bestBy, interleaved } from '../lib/rounds.js'
import { type BenchSettings, figure, type ScenarioResult } from '../lib/types.js'
import { type PerOperation, perOperation, type ReqRepRound, reqRepRound } from '../lib/ws-reqrep.js'

/** In flight: 1 and 50 (BENCH_B2_IN_FLIGHT=50 runs only the 50 rows, the CPU model's, for quick comparisons). */
const CONCURRENCY = [...new Set([...(process.env.BENCH_B2_IN_FLIGHT ?? '1').split(',').map(Number), 50])]

/**
 * B2: client event -> gateway -> RabbitMQ -> echo UM -> EMIT -> gateway -> client, at 1 and at 50 in
 * flight (50 sessions with one event each in flight), vs a bare rhea client -> RabbitMQ -> the same
 * echo UM -> back, at the same number in flight on one connection.
 */
export async function b2AmqpRoundtrip(settings: BenchSettings): Promise<ScenarioResult> {
  const started = performance.now()
  const marker = queueMarker(settings, 'B2')
  const children: Array<Stoppable | undefined> = []
  const broker = await brokerPid()
  try {
    settings.log('B2: starting the gateway with its echo UM, and the bare rhea baseline with its own echo UM')
    const gw = await startGateway(settings, 'B2')
    children.push(gw.gateway, gw.um)
    const { child: baseUm } = await startChild('servers/echo-um.ts', {
      name: 'b2-base-echo-um',
      env: { ECHO_UM_QUEUE: `${marker}-base-um` },
    })
    children.push(baseUm)
    const { child: baseClient } = await startChild('loadgen/amqp-loadgen.ts', {
      name: 'b2-base-loadgen',
      env: { BASE_UM_QUEUE: `${marker}-base-um`, BASE_REPLY_QUEUE: `${marker}-base-reply` },
    })
    children.push(baseClient)
    const [gwLoadgen] = await startLoadgens('b2-gw', 1)
    if (!gwLoadgen) throw new Error('no load generator')
    children.push(gwLoadgen)
    const c = await connectAll([gwLoadgen], { url: gw.wsUrl }, Math.max(...CONCURRENCY))
    if (c.failed > 0) throw new Error(`B2: ${c.failed} connections failed (${c.firstError})`)

    const timing = { warmupMs: settings.warmupMs, durationMs: settings.durationMs }
    const byConcurrency: Record<
      number,
      { gateway: ReqRepRound[]; baseline: ReqRepRound[]; withId: ReqRepRound[] }
    > = {}
    const gatewayRound = (n: number, mode: 'event' | 'event-ack') =>
      reqRepRound(
        [gwLoadgen],
        [gw.gateway, gwLoadgen, gw.um],
        { type: 'reqrep', mode, inFlightPerConnection: 1, connections: n },
        timing,
        broker,
      )
    for (const n of CONCURRENCY) {
      settings.log(`B2 at ${n} in flight`)
      const rounds = await interleaved<ReqRepRound>(
        settings.rounds,
        {
          baseline: () =>
            reqRepRound([baseClient], [baseClient, baseUm], { type: 'run', inFlight: n }, timing, broker),
          gateway: () => gatewayRound(n, 'event'),
        },
        settings.log,
      )
      settings.log(`B2 at ${n} in flight, events with an id (the gateway also sends the ok reply)`)
      const withId: ReqRepRound[] = []
      for (let r = 0; r < settings.rounds; r++) withId.push(await gatewayRound(n, 'event-ack'))
      byConcurrency[n] = { ...rounds, withId }
    }
    const best = (n: number) => {
      const rounds = byConcurrency[n] as {
        gateway: ReqRepRound[]
        baseline: ReqRepRound[]
        withId: ReqRepRound[]
      }
      return {
        gateway: bestBy(rounds.gateway, (r) => r.msgPerSec),
        baseline: bestBy(rounds.baseline, (r) => r.msgPerSec),
        withId: bestBy(rounds.withId, (r) => r.msgPerSec),
      }
    }
    // Without the 1-in-flight rounds (BENCH_B2_IN_FLIGHT=50) their rows are left out below.
    const at1 = byConcurrency[1] ? best(1) : best(50)
    const at50 = best(50)
    const ws = await bareWs(settings, children)
    const wsHop = ws.at1
    // The CPU-per-round-trip model: each side's least CPU per round trip over its rounds (outside load
    // only ever adds to it), from /proc over the measured windows of this run.
    const rounds50 = byConcurrency[50] as {
      gateway: ReqRepRound[]
      baseline: ReqRepRound[]
      withId: ReqRepRound[]
    }
    const gwWithId = leastCpu(rounds50.withId, 0)
    const gwNoId = leastCpu(rounds50.gateway, 0)
    const rhea = leastCpu(rounds50.baseline, 0)
    const wsFrame = leastCpu(ws.at50, 0)
    const model = {
      cpuUs: rhea.cpuUs + 2 * wsFrame.cpuUs,
      syscalls: rhea.syscalls + 2 * wsFrame.syscalls,
    }
    const failed = Object.values(byConcurrency)
      .flatMap((r) => [...r.gateway, ...r.withId])
      .reduce((sum, r) => sum + r.acksFailed, 0)
    if (failed > 0) throw new Error(`B2: the gateway refused ${failed} events (error frames or ok:false)`)
    return {
      id: 'B2',
      title: 'client event -> gateway -> RabbitMQ -> echo UM -> EMIT -> client',
      baseline: 'bare rhea client -> RabbitMQ -> the same echo UM -> back (same number in flight)',
      figures: [
        figure('B2', 'throughput, 1 in flight', 'msg/s', at1.gateway.msgPerSec, at1.baseline.msgPerSec, {
          kind: 'ratio-min',
          value: 0.9,
        }),
        figure(
          'B2',
          'latency p50, 1 in flight',
          'ms',
          at1.gateway.latency.p50Ms,
          at1.baseline.latency.p50Ms,
          {
            kind: 'delta-max',
            value: 0.25,
          },
        ),
        figure('B2', 'latency p99, 1 in flight', 'ms', at1.gateway.latency.p99Ms, at1.baseline.latency.p99Ms),
        figure('B2', 'throughput, 50 in flight', 'msg/s', at50.gateway.msgPerSec, at50.baseline.msgPerSec, {
          kind: 'ratio-min',
          value: 0.9,
        }),
        figure(
          'B2',
          'latency p50, 50 in flight',
          'ms',
          at50.gateway.latency.p50Ms,
          at50.baseline.latency.p50Ms,
        ),
        figure(
          'B2',
          'latency p99, 50 in flight',
          'ms',
          at50.gateway.latency.p99Ms,
          at50.baseline.latency.p99Ms,
        ),
        figure(
          'B2',
          'with id: throughput, 1 in flight',
          'msg/s',
          at1.withId.msgPerSec,
          at1.baseline.msgPerSec,
        ),
        figure(
          'B2',
          'with id: latency p50, 1 in flight',
          'ms',
          at1.withId.latency.p50Ms,
          at1.baseline.latency.p50Ms,
        ),
        figure(
          'B2',
          'with id: throughput, 50 in flight',
          'msg/s',
          at50.withId.msgPerSec,
          at50.baseline.msgPerSec,
          { kind: 'ratio-min', value: 0.8 },
        ),
        figure(
          'B2',
          'with id: gateway CPU per round trip, 50 in flight (vs model)',
          'µs',
          gwWithId.cpuUs,
          model.cpuUs,
          {
            kind: 'ratio-max',
            value: 1.3,
          },
        ),
        figure('B2', 'gateway CPU per round trip, 50 in flight (vs model)', 'µs', gwNoId.cpuUs, model.cpuUs),
        figure(
          'B2',
          'model: bare rhea client CPU per round trip, 50 in flight',
          'µs',
          rhea.cpuUs,
          rhea.cpuUs,
        ),
        figure(
          'B2',
          'model: bare ws server CPU per frame echoed, 50 in flight',
          'µs',
          wsFrame.cpuUs,
          wsFrame.cpuUs,
        ),
        figure(
          'B2',
          'with id: gateway syscalls per round trip (vs model)',
          'calls',
          gwWithId.syscalls,
          model.syscalls,
        ),
        figure('B2', 'gateway syscalls per round trip (vs model)', 'calls', gwNoId.syscalls, model.syscalls),
      ].filter((f) => byConcurrency[1] !== undefined || !f.metric.includes('1 in flight')),
      details: {
        best: { at1, at50 },
        rounds: byConcurrency,
        wsHopAt1InFlight: wsHop,
        bareWsAt50: ws.at50,
        cpuModel: {
          gatewayWithId: gwWithId,
          gatewayNoId: gwNoId,
          rheaClient: rhea,
          wsServerPerFrame: wsFrame,
          model,
        },
        brokerPid: broker ?? null,
      },
      notes: [
        'Target rows: events without an id (the EMIT is the answer), as the bare baseline has no per-message reply. "with id" rows: the client also asks for the ok reply frame (sent once the broker accepted the event), one more frame per event.',
        `The gateway path has one WebSocket round trip more than the baseline: a bare ws echo round trip at 1 in flight took p50 ${wsHop.latency.p50Ms} ms here.`,
        'CPU shares in the rounds: gateway side [gateway, ws load generator, echo UM, broker]; baseline side [rhea client, echo UM, broker].',
        "CPU model (issue 16): the gateway's CPU per round trip at 50 in flight against a bare rhea client's CPU per round trip (same broker, same echo UM) plus 2 x a bare ws server's CPU per echoed frame (50 connections, 1 in flight each); each the least over its rounds, from /proc/<pid>/stat. Syscalls: syscr + syscw of /proc/<pid>/io over the same windows.",
      ],
      durationMs: performance.now() - started,
    }
  } finally {
    await stopAll(children.filter((c) => c?.name.includes('loadgen')))
    await stopAll(children.filter((c) => c && !c.name.includes('loadgen') && !c.name.includes('echo-um')))
    await stopAll(children.filter((c) => c?.name.includes('echo-um')))
    await deleteQueuesContaining(marker)
  }
}

/** The round with the least CPU per request of process `index`, as that process's per-request cost. */
function leastCpu(rounds: ReqRepRound[], index: number): PerOperation {
  const costs = rounds.map((r) => perOperation(r, index))
  return costs.reduce((best, c) => (c.cpuUs < best.cpuUs ? c : best))
}

/**
 * A bare `ws` echo server: one round trip at 1 in flight (what one more WebSocket hop costs in
 * latency), and 50 connections with 1 in flight each (its CPU per echoed frame, for the CPU model).
 */
async function bareWs(
  settings: BenchSettings,
  children: Array<Stoppable | undefined>,
): Promise<{ at1: ReqRepRound; at50: ReqRepRound[] }> {
  const { child: echo, ready } = await startChild('servers/bare-ws-server.ts', { name: 'b2-ws-hop' })
  children.push(echo)
  const [loadgen] = await startLoadgens('b2-ws-hop', 1)
  if (!loadgen) throw new Error('no load generator')
  children.push(loadgen)
  await connectAll([loadgen], { url: String(ready.wsUrl) }, 50)
  const timing = { warmupMs: settings.warmupMs, durationMs: settings.durationMs }
  const command = (connections: number) => ({
    type: 'reqrep',
    mode: 'get-sid',
    inFlightPerConnection: 1,
    connections,
  })
  const at1 = await reqRepRound([loadgen], [echo, loadgen], command(1), timing)
  const at50: ReqRepRound[] = []
  for (let r = 0; r < settings.rounds; r++)
    at50.push(await reqRepRound([loadgen], [echo, loadgen], command(50), timing))
  return { at1, at50 }
}
