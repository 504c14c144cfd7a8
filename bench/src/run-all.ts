/**
 * `pnpm bench [-- B1 B3]` (or BENCH_ONLY=B1,B3): runs the scenarios, each against its baseline in
 * the same run, prints the table and writes bench/results/<timestamp>.json.
 *
 * BENCH_DURATION_MS / BENCH_WARMUP_MS / BENCH_ROUNDS: measured window, warm-up and number of
 * alternating rounds of each throughput measurement.
 * BENCH_PROFILE=1: the gateway runs with --cpu-prof; profiles go to bench/results/profiles/<run>/.
 */
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { machineInfo } from './lib/machine.js'
import { killAll, setLogDir } from './lib/procs.js'
import { deleteQueuesContaining } from './lib/rabbitmq.js'
import { renderTable, writeReport } from './lib/report.js'
import type { BenchSettings, Scenario, ScenarioResult } from './lib/types.js'
import { b1GetSid } from './scenarios/b1-get-sid.js'
import { b2AmqpRoundtrip } from './scenarios/b2-amqp-roundtrip.js'
import { b3IdleSessions } from './scenarios/b3-idle-sessions.js'
import { b4Broadcast } from './scenarios/b4-broadcast.js'
import { b4sSocketIoBroadcast } from './scenarios/b4s-socketio-broadcast.js'
import { b5EmitUser } from './scenarios/b5-emit-user.js'
import { b6ResumeStorm } from './scenarios/b6-resume-storm.js'

const SCENARIOS: Record<string, Scenario> = {
  B1: b1GetSid,
  B2: b2AmqpRoundtrip,
  B3: b3IdleSessions,
  B4: b4Broadcast,
  B4S: b4sSocketIoBroadcast,
  B5: b5EmitUser,
  B6: b6ResumeStorm,
}

const RESULTS_DIR = fileURLToPath(new URL('../results', import.meta.url))

function selected(): string[] {
  const fromArgs = process.argv.slice(2).filter((a) => a !== '--')
  const fromEnv = (process.env.BENCH_ONLY ?? '').split(',').filter((s) => s.trim() !== '')
  const wanted = [...fromArgs, ...fromEnv].map((s) => s.trim().toUpperCase())
  if (wanted.length === 0) return Object.keys(SCENARIOS)
  const unknown = wanted.filter((w) => !(w in SCENARIOS))
  if (unknown.length > 0)
    throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`)
  return Object.keys(SCENARIOS).filter((id) => wanted.includes(id))
}

async function main(): Promise<void> {
  const ids = selected()
  const startedAt = new Date()
  const runId = startedAt.getTime().toString(36)
  setLogDir(join('/tmp', `bench-${runId}`))
  const settings: BenchSettings = {
    runId,
    warmupMs: Number(process.env.BENCH_WARMUP_MS ?? 1000),
    durationMs: Number(process.env.BENCH_DURATION_MS ?? 3000),
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    profileDir: process.env.BENCH_PROFILE ? join(RESULTS_DIR, 'profiles', runId) : undefined,
    log: (message) =>
      process.stdout.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1)}s] ${message}\n`),
  }
  const t0 = performance.now()
  const onSignal = () => {
    killAll()
    void deleteQueuesContaining(`bench-${runId}`).finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  settings.log(`run ${runId}: ${ids.join(', ')} (child logs in /tmp/bench-${runId})`)
  const results: ScenarioResult[] = []
  for (const id of ids) {
    const scenario = SCENARIOS[id] as Scenario
    const begin = performance.now()
    try {
      results.push(await scenario(settings))
    } catch (err) {
      settings.log(`${id} failed: ${(err as Error).stack ?? String(err)}`)
      killAll()
      results.push({
        id,
        title: id,
        baseline: '',
        figures: [],
        details: {},
        notes: [],
        durationMs: performance.now() - begin,
        error: String((err as Error).message ?? err),
      })
    }
    settings.log(`${id} done in ${((performance.now() - begin) / 1000).toFixed(1)} s`)
  }
  await deleteQueuesContaining(`bench-${runId}`).catch(() => [])

  const finishedAt = new Date()
  const file = writeReport(RESULTS_DIR, {
    runId,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    totalMs: finishedAt.getTime() - startedAt.getTime(),
    machine: machineInfo(),
    settings: {
      warmupMs: settings.warmupMs,
      durationMs: settings.durationMs,
      rounds: settings.rounds,
      profile: settings.profileDir ?? null,
    },
    scenarios: results,
  })
  process.stdout.write(`\n${renderTable(results)}\n\nresults: ${file}\n`)
  if (settings.profileDir) process.stdout.write(`profiles: ${settings.profileDir}\n`)
  process.exitCode = results.some((r) => r.error) ? 1 : 0
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`)
  killAll()
  process.exit(1)
})
