import hdr from 'hdr-histogram-js'

export type Histogram = ReturnType<typeof hdr.build>

/** Latency histogram in microseconds, 1 µs to 60 s, 3 significant digits. */
export function newHistogram(): Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    bitBucketSize: 32,
    useWebAssembly: false,
  })
}

/** Records a duration given in milliseconds (performance.now() differences) as microseconds. */
export function recordMs(h: Histogram, ms: number): void {
  h.recordValue(Math.max(1, Math.round(ms * 1000)))
}

/** A histogram as text, to cross the IPC channel. */
export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h)
}

/** Adds every encoded histogram into one. */
export function mergeHistograms(encoded: string[]): Histogram {
  const total = newHistogram()
  for (const text of encoded) {
    const h = hdr.decodeFromCompressedBase64(text, 32, false)
    total.add(h)
    h.destroy()
  }
  return total
}

export interface LatencySummary {
  count: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  meanMs: number
}

const ms = (us: number) => Math.round(us) / 1000

export function summarize(h: Histogram): LatencySummary {
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
    meanMs: ms(h.mean),
  }
}
