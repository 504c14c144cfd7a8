import type { AckClient } from '../helpers/ack-client.js'

export interface LatencySummary {
  n: number
  p50: number
  p99: number
  max: number
}

export function summarize(samples: number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
  const round = (x: number) => Math.round(x * 100) / 100
  return { n: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted.at(-1) ?? 0) }
}

/**
 * Round trips of well-behaved sessions, one at a time per session, until `stop()`: `GET_SID`
 * (answered by the node itself) and an acked event (through the broker to the UM queue).
 */
export class LatencyProbe {
  readonly local: number[] = []
  readonly acked: number[] = []
  readonly failures: string[] = []
  /** For each client (in the order given), when (performance.now()) each acked round trip began and ended. */
  readonly ackedAt: Array<Array<{ from: number; to: number }>>
  #running = true
  readonly #loops: Promise<void>[]

  constructor(clients: AckClient[], maxRounds = 100_000) {
    this.ackedAt = clients.map(() => [])
    this.#loops = clients.map(async (client, index) => {
      for (let i = 0; i < maxRounds && this.#running; i++) {
        try {
          const from = performance.now()
          const a = await client.roundTrip('GET_SID')
          this.local.push(a.ms)
          const b = await client.roundTrip('probe.ping', { i })
          if (b.outcome === 'ok') {
            this.acked.push(b.ms)
            this.ackedAt[index]?.push({ from, to: performance.now() })
          } else this.failures.push(b.outcome)
        } catch (err) {
          this.failures.push((err as Error).message)
          return
        }
        // Paced well under the default rate limit (100 frames/s): 2 frames per 50 ms at most.
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })
  }

  /**
   * How many rounds (GET_SID + acked event) each client began at or after `from` and completed
   * before `to` (performance.now() instants). At least one for every client, with `from`..`to` the
   * busiest part of a flood, means that no well-behaved session waited for the flood to be over:
   * the no-starvation check, without a latency threshold.
   */
  roundsWithin(from: number, to: number): number[] {
    return this.ackedAt.map((rounds) => rounds.filter((r) => r.from >= from && r.to < to).length)
  }

  async stop(): Promise<{ local: LatencySummary; acked: LatencySummary; failures: string[] }> {
    this.#running = false
    await Promise.all(this.#loops)
    return { local: summarize(this.local), acked: summarize(this.acked), failures: this.failures }
  }
}
