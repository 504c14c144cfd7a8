import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { MachineInfo } from './machine.js'
import type { Figure, ScenarioResult, Target } from './types.js'

function targetText(t: Target | undefined, unit: string): string {
  if (!t) return ''
  if (t.kind === 'ratio-min') return `>= ${t.value}x`
  if (t.kind === 'ratio-max') return `<= ${t.value}x`
  if (t.kind === 'delta-max') return `<= +${t.value} ${unit}`
  return `<= ${t.value} ${unit}`
}

function num(n: number): string {
  if (!Number.isFinite(n)) return 'n/a'
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US')
  if (Math.abs(n) >= 100) return n.toFixed(0)
  if (Math.abs(n) >= 10) return n.toFixed(1)
  // Two significant digits below 0.1 (idle cores: 0.027, not 0.03 beside a 0.03 target).
  if (Math.abs(n) < 0.1 && n !== 0) return n.toPrecision(2)
  return n.toFixed(2)
}

function row(f: Figure): string[] {
  return [
    f.scenario,
    f.metric,
    `${num(f.gateway)} ${f.unit}`,
    `${num(f.baseline)} ${f.unit}`,
    `${num(f.ratio)}x`,
    targetText(f.target, f.unit),
    f.met === undefined ? '' : f.met ? 'yes' : 'NO',
  ]
}

/** The results as a Markdown table (also readable on a terminal). */
export function renderTable(results: ScenarioResult[]): string {
  const header = ['id', 'metric', 'gateway', 'baseline', 'ratio', 'target', 'met']
  const rows = results.flatMap((r) =>
    r.error ? [[r.id, `FAILED: ${r.error.split('\n')[0] ?? ''}`, '', '', '', '', 'NO']] : r.figures.map(row),
  )
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n')
}

export interface RunReport {
  runId: string
  startedAt: string
  finishedAt: string
  totalMs: number
  machine: MachineInfo
  settings: Record<string, unknown>
  scenarios: ScenarioResult[]
}

/** Writes bench/results/<timestamp>.json; returns its path. */
export function writeReport(dir: string, report: RunReport): string {
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${report.startedAt.replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`)
  return file
}
