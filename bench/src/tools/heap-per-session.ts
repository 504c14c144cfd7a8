/**
 * Heap retained per idle gateway session, by object type: starts the gateway (production entry
 * point), takes a heap snapshot, connects N sessions, takes another, and prints the difference per
 * session. Usage: node --import tsx src/tools/heap-per-session.ts [sessions=2000] [top=30]
 * BENCH_HEAP_RESUME=1: with resume on (SESSION_RESUME_WINDOW_MS=30000 and a GATEWAY_RESUME_SECRET),
 * for the figure issue 12 asks for (heap per idle session with resume on, against off).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startGateway } from '../lib/gateway.js'
import { connectAll, startLoadgens } from '../lib/loadgens.js'
import { stopAll } from '../lib/procs.js'
import { deleteQueuesContaining } from '../lib/rabbitmq.js'

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
  nodes: number[]
  strings: string[]
}

/** Self size and count per "type:constructor" of a .heapsnapshot. */
function byConstructor(file: string): Map<string, { bytes: number; count: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const width = fields.length
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
    number,
    number,
    number,
  ]
  const out = new Map<string, { bytes: number; count: number }>()
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType] as number] ?? '?'
    const named = type === 'object' || type === 'closure' || type === 'native'
    const key = named ? `${type}:${snap.strings[snap.nodes[i + iName] as number]}` : type
    const entry = out.get(key) ?? { bytes: 0, count: 0 }
    entry.bytes += snap.nodes[i + iSize] as number
    entry.count += 1
    out.set(key, entry)
  }
  return out
}

const sessions = Number(process.argv[2] ?? 2000)
const top = Number(process.argv[3] ?? 30)
const dir = mkdtempSync(join(tmpdir(), 'bench-heap-'))
const runId = `heap-${Date.now().toString(36)}`
const settings = { runId, warmupMs: 0, durationMs: 0, rounds: 1, profileDir: undefined, log: () => {} }
// SIGUSR2 is taken by the gateway's graceful shutdown (close-with-grace): snapshots on SIGURG.
const resume = process.env.BENCH_HEAP_RESUME === '1'
const gw = await startGateway(settings, 'HEAP', {
  execArgv: ['--heapsnapshot-signal=SIGURG', `--diagnostic-dir=${dir}`],
  env: resume
    ? {
        SESSION_RESUME_WINDOW_MS: '30000',
        GATEWAY_RESUME_SECRET: 'bench-heap-resume-secret-0123456789abcdef',
      }
    : {},
})
const loadgens = await startLoadgens('heap', 1)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
/** Signals the gateway and waits until the n-th snapshot file is complete (its size holds still). */
const snapshot = async (n: number) => {
  process.kill(gw.gateway.pid, 'SIGURG')
  while (readdirSync(dir).length < n) await sleep(200)
  const file = join(dir, readdirSync(dir).sort()[n - 1] as string)
  // Written in pieces: complete once it ends the JSON document.
  for (;;) {
    const text = readFileSync(file, 'utf8')
    if (text.trimEnd().endsWith('}')) return
    await sleep(500)
  }
}
try {
  await snapshot(1)
  const connected = await connectAll(loadgens, { url: gw.wsUrl }, sessions)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  await snapshot(2)
  const [before, after] = readdirSync(dir)
    .sort()
    .map((f) => byConstructor(join(dir, f)))
  if (!before || !after) throw new Error('no snapshots')
  const rows = [...after].map(([key, a]) => {
    const b = before.get(key) ?? { bytes: 0, count: 0 }
    return {
      key,
      bytes: (a.bytes - b.bytes) / connected.opened,
      count: (a.count - b.count) / connected.opened,
    }
  })
  const total = rows.reduce((s, r) => s + r.bytes, 0)
  process.stdout.write(
    `${connected.opened} sessions${resume ? ' (resume on)' : ''}: ${total.toFixed(0)} bytes of heap each\n`,
  )
  for (const r of rows.sort((x, y) => y.bytes - x.bytes).slice(0, top)) {
    process.stdout.write(
      `${r.bytes.toFixed(0).padStart(7)} B ${r.count.toFixed(2).padStart(6)}/session  ${r.key}\n`,
    )
  }
} finally {
  await stopAll(loadgens)
  await gw.gateway.stop()
  await gw.um.stop()
  await deleteQueuesContaining(runId)
  rmSync(dir, { recursive: true, force: true })
}
