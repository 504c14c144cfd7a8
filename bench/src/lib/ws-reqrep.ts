import { type LatencySummary, mergeHistograms, summarize } from './histogram.js'
import { CpuMeter, type CpuShares } from './proc-stats.js'
import type { Child } from './procs.js'
import type { Server } from './server.js'

export interface ReqRepRound {
  msgPerSec: number
  completed: number
  latency: LatencySummary
  /** CPU of the measured processes: the server(s) first, then the load generators. */
  cpu: CpuShares
  unanswered: number
  acksOk: number
  acksFailed: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * One measured round of a closed request/reply loop: the load generators get `command` (type
 * `reqrep` or `run`), warm up, then measure; CPU of `measured` processes is sampled over the same window.
 */
export async function reqRepRound(
  loadgens: Child[],
  measured: Array<Child | Server>,
  command: Record<string, unknown> & { type: string },
  timing: { warmupMs: number; durationMs: number },
  /** Other processes whose CPU is measured too (the broker), after `measured`. */
  extraPid?: number,
): Promise<ReqRepRound> {
  const cpu = new CpuMeter([...measured.map((c) => c.pid), ...(extraPid === undefined ? [] : [extraPid])])
  const answers = Promise.all(
    loadgens.map((lg) =>
      lg.request({ ...command, ...timing }, 'reqrep-done', timing.warmupMs + timing.durationMs + 30_000),
    ),
  )
  await sleep(timing.warmupMs)
  cpu.start()
  await sleep(timing.durationMs)
  const shares = cpu.stop()
  const results = await answers
  const completed = results.reduce((s, r) => s + Number(r.completed), 0)
  const measuredMs = Math.max(...results.map((r) => Number(r.measuredMs)))
  return {
    msgPerSec: completed / (measuredMs / 1000),
    completed,
    latency: summarize(mergeHistograms(results.map((r) => String(r.histogram)))),
    cpu: shares,
    unanswered: results.reduce((s, r) => s + Number(r.unanswered), 0),
    acksOk: results.reduce((s, r) => s + Number(r.acksOk ?? 0), 0),
    acksFailed: results.reduce((s, r) => s + Number(r.acksFailed ?? 0), 0),
  }
}

export interface PerOperation {
  /** CPU (user + system) per completed request, in µs. */
  cpuUs: number
  /** Of it, kernel (system) time, in µs: the system calls and the loopback TCP path they run. */
  systemUs: number
  /** Read-like plus write-like system calls per completed request (NaN: /proc/<pid>/io unreadable). */
  syscalls: number
  reads: number
  writes: number
}

/**
 * What process `index` of a round's measured processes spent per completed request: its CPU and its
 * system calls over the measured window, divided by the requests completed in that window.
 */
export function perOperation(round: ReqRepRound, index: number): PerOperation {
  const ops = round.msgPerSec * round.cpu.seconds
  const calls = round.cpu.syscalls[index]
  const per = (n: number) => Math.round((n / ops) * 100) / 100
  return {
    cpuUs: Math.round(((round.cpu.cpuSeconds[index] ?? 0) * 1e6) / ops),
    systemUs: Math.round(((round.cpu.systemSeconds[index] ?? 0) * 1e6) / ops),
    syscalls: calls ? per(calls.reads + calls.writes) : Number.NaN,
    reads: calls ? per(calls.reads) : Number.NaN,
    writes: calls ? per(calls.writes) : Number.NaN,
  }
}
