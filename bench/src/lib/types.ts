/** How a figure is judged against its target. */
export type Target =
  | { kind: 'ratio-min'; value: number } // gateway / baseline >= value
  | { kind: 'ratio-max'; value: number } // gateway / baseline <= value
  | { kind: 'delta-max'; value: number } // gateway - baseline <= value (same unit)
  | { kind: 'absolute-max'; value: number } // gateway <= value

export interface Figure {
  scenario: string
  metric: string
  unit: string
  gateway: number
  baseline: number
  /** gateway / baseline. */
  ratio: number
  target?: Target
  met?: boolean
}

export interface ScenarioResult {
  id: string
  title: string
  baseline: string
  figures: Figure[]
  /** Every raw number behind the figures (latency summaries, CPU shares, counts). */
  details: Record<string, unknown>
  notes: string[]
  durationMs: number
  error?: string
}

export interface BenchSettings {
  runId: string
  warmupMs: number
  durationMs: number
  /** Alternating rounds per side (the median round is reported). */
  rounds: number
  /** Set: the gateway runs with --cpu-prof and writes its profile here. */
  profileDir: string | undefined
  log(message: string): void
}

export type Scenario = (settings: BenchSettings) => Promise<ScenarioResult>

function round(n: number, digits = 3): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

/** A figure with its ratio and, when it has a target, whether the target is met. */
export function figure(
  scenario: string,
  metric: string,
  unit: string,
  gateway: number,
  baseline: number,
  target?: Target,
): Figure {
  const ratio = baseline === 0 ? Number.NaN : round(gateway / baseline)
  const f: Figure = { scenario, metric, unit, gateway: round(gateway), baseline: round(baseline), ratio }
  if (target) {
    f.target = target
    if (target.kind === 'ratio-min') f.met = ratio >= target.value
    else if (target.kind === 'ratio-max') f.met = ratio <= target.value
    else if (target.kind === 'delta-max') f.met = gateway - baseline <= target.value
    else f.met = gateway <= target.value
  }
  return f
}
