/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package.
 * Usage: node --import tsx src/tools/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** The package a script belongs to (pnpm store paths, workspace packages, node internals). */
function packageOf(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)'
  if (url.startsWith('node:')) return 'node-internals'
  const pnpm = /node_modules\/\.pnpm\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pnpm?.[1]) return pnpm[1]
  const workspace = /\/(packages|apps|bench)\/([^/]+)\//.exec(url)
  if (workspace?.[2]) return `workspace:${workspace[2]}`
  return url
}

const [file, topArg] = process.argv.slice(2)
if (!file) {
  process.stderr.write('usage: profile-summary <file.cpuprofile> [top]\n')
  process.exit(2)
}
const top = Number(topArg ?? 25)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
})
let total = 0
const byFunction = new Map<string, number>()
const byPackage = new Map<string, number>()
for (const [id, us] of selfUs) {
  const node = byId.get(id)
  if (!node) continue
  total += us
  const { functionName, url, lineNumber } = node.callFrame
  const short = url
    .replace(/^.*node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
    .replace(/^file:\/\/\/work\/main\//, '')
  const key = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  const pkg = packageOf(url, functionName)
  byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us)
}
const busy = total - (byPackage.get('(idle)') ?? 0)
const pct = (us: number, of: number) => `${((100 * us) / of).toFixed(1).padStart(5)}%`
const print = (title: string, map: Map<string, number>) => {
  process.stdout.write(`\n${title} (share of non-idle time)\n`)
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    if (k === '(idle)') continue
    process.stdout.write(`${pct(us, busy)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`)
  }
}
process.stdout.write(
  `${file}\ntotal ${(total / 1e6).toFixed(1)} s, idle ${pct(byPackage.get('(idle)') ?? 0, total)}, busy ${(busy / 1e6).toFixed(1)} s\n`,
)
print('by package', byPackage)
print('by function (self time)', byFunction)
