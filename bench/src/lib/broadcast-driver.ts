import { type LatencySummary, newHistogram, recordMs, summarize } from './histogram.js'
import { CpuMeter, type CpuShares } from './proc-stats.js'
import type { Child } from './procs.js'
import type { Server } from './server.js'

export interface BroadcastRound {
  /** Frames the clients received per second in the measured window. */
  framesPerSec: number
  /** Broadcasts that reached every client within the window. */
  broadcasts: number
  clients: number
  /** From the trigger to the last client having the frame. */
  fanoutLatency: LatencySummary
  cpu: CpuShares
  /** Frames the clients counted in the window. */
  framesCounted: number
}

/** The 100-byte event: `{"event":"tick","data":{"seq":N,"pad":"…"}}` is 100 bytes for a 6-digit N. */
export function tickData(seq: number): { seq: number; pad: string } {
  return { seq, pad: 'x'.repeat(100 - `{"event":"tick","data":{"seq":${seq},"pad":""}}`.length) }
}

/**
 * Triggers broadcasts with at most `window` incomplete at once: a broadcast is complete when every
 * load generator reported that all its clients got it. Runs `warmupMs`, then counts for `durationMs`.
 */
export async function broadcastRound(options: {
  loadgens: Child[]
  clients: number
  server: Server
  trigger: (seq: number) => Promise<void>
  window: number
  warmupMs: number
  durationMs: number
  firstSeq: number
}): Promise<BroadcastRound> {
  const { loadgens } = options
  const histogram = newHistogram()
  const doneBy = new Map<number, number>()
  const sentAt = new Map<number, number>()
  let seq = options.firstSeq
  let inFlight = 0
  let measuring = false
  let running = true
  let completed = 0
  let failure: Error | undefined
  let wake: (() => void) | undefined

  const fire = () => {
    while (running && inFlight < options.window) {
      const s = seq++
      inFlight++
      sentAt.set(s, performance.now())
      options.trigger(s).catch((err: unknown) => {
        failure ??= err as Error
        wake?.()
      })
    }
  }
  const onSeqDone = (m: { type: string; seq?: unknown }) => {
    if (m.type !== 'seq-done') return
    const s = Number(m.seq)
    const n = (doneBy.get(s) ?? 0) + 1
    if (n < loadgens.length) {
      doneBy.set(s, n)
      return
    }
    doneBy.delete(s)
    inFlight--
    const t = sentAt.get(s)
    sentAt.delete(s)
    if (measuring && t !== undefined) {
      recordMs(histogram, performance.now() - t)
      completed++
    }
    if (inFlight === 0) wake?.()
    fire()
  }

  await Promise.all(loadgens.map((lg) => lg.request({ type: 'fanout-start' }, 'fanout-started')))
  const detach = loadgens.map((lg) => lg.onMessage(onSeqDone))
  const cpu = new CpuMeter([options.server.pid, ...loadgens.map((l) => l.pid)])
  try {
    fire()
    await new Promise((resolve) => setTimeout(resolve, options.warmupMs))
    const framesBefore = await framesCounted(loadgens)
    measuring = true
    cpu.start()
    const start = performance.now()
    await new Promise((resolve) => setTimeout(resolve, options.durationMs))
    measuring = false
    const elapsedMs = performance.now() - start
    const shares = cpu.stop()
    const framesAfter = await framesCounted(loadgens)
    running = false
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        wake = resolve
        setTimeout(resolve, 10_000)
      })
    }
    if (failure) throw failure
    return {
      framesPerSec: (framesAfter - framesBefore) / (elapsedMs / 1000),
      broadcasts: completed,
      clients: options.clients,
      fanoutLatency: summarize(histogram),
      cpu: shares,
      framesCounted: framesAfter - framesBefore,
    }
  } finally {
    running = false
    for (const off of detach) off()
    await Promise.all(loadgens.map((lg) => lg.request({ type: 'fanout-stop' }, 'fanout-done')))
  }
}

async function framesCounted(loadgens: Child[]): Promise<number> {
  const answers = await Promise.all(loadgens.map((lg) => lg.request({ type: 'frames' }, 'frames')))
  return answers.reduce((s, a) => s + Number(a.frames), 0)
}
