/**
 * Summarizes `perf script` output of a gateway recorded with `perf record -g` (on-CPU samples):
 * each sample is charged to its nearest JavaScript frame, with the builtins, runtime and kernel code
 * it was running below that frame, and listed by package, by function (self) and by function
 * (inclusive). Unlike a V8 `--cpu-prof` profile, which samples wall time and charges the time a
 * process waited, preempted, to the native call it was in, `perf` samples only what ran on a CPU.
 *
 * Usage (the gateway started with NODE_OPTIONS=--perf-basic-prof, so perf can name JIT code):
 *   perf record -F 1999 -g -p <gateway pid> -o gw.data -- sleep 8
 *   perf script -i gw.data > gw.txt
 *   node --import tsx src/tools/perf-summary.ts gw.txt [top=30] [leaf-regex]
 * With a leaf regex (e.g. 'Megamorphic|IC_Miss'), it also lists which JS functions the samples whose
 * innermost frame matches came from.
 */
import { readFileSync } from 'node:fs'

const [file, topArg, leafArg] = process.argv.slice(2)
if (!file) {
  process.stderr.write('usage: perf-summary <perf-script.txt> [top] [leaf-regex]\n')
  process.exit(2)
}
const top = Number(topArg ?? 30)
const leafPattern = leafArg ? new RegExp(leafArg) : undefined

/** A frame's symbol without its address, DSO and offset; store paths shortened. */
function symbolOf(line: string): string {
  const rest = line.trim().replace(/^[0-9a-f]+\s+/, '')
  return rest
    .replace(/ \([^)]*\)$/, '')
    .replace(/\+0x[0-9a-f]+$/, '')
    .replace(/\/work\/[^ ]*?node_modules\/\.pnpm\/[^/]+\/node_modules\//, '')
    .replace(/file:\/\/\/work\/[^/]+\//, '')
}

function packageOf(frame: string): string {
  if (frame.includes('node:')) return 'node-internals'
  const workspace = /(?:^|[ /])(packages|apps|bench)\/([^/]+)\//.exec(frame)
  if (workspace?.[2]) return `workspace:${workspace[2]}`
  const dependency = /JS:\S*\s+((?:@[^/]+\/)?[^/]+)\/lib\//.exec(frame)
  if (dependency?.[1]) return dependency[1]
  return 'other JS'
}

const isGc = (leaf: string) => /Scaveng|MarkCompact|Marking|Sweep|Heap::|GCTracer/.test(leaf)

const self = new Map<string, number>()
const inclusive = new Map<string, number>()
const byPackage = new Map<string, number>()
const fromLeaf = new Map<string, number>()
let samples = 0
let leafSamples = 0
let kernelSyscall = 0
const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)

function flush(stack: string[]): void {
  if (stack.length === 0) return
  samples++
  const js = stack.filter((f) => f.startsWith('JS:'))
  const nearest = js[0]
  const leaf = stack[0] ?? ''
  if (stack.some((f) => f.includes('entry_SYSCALL'))) kernelSyscall++
  if (nearest === undefined) {
    const key = isGc(leaf) ? '(garbage collection)' : `(no JS frame) ${leaf.slice(0, 60)}`
    add(self, key)
    add(byPackage, isGc(leaf) ? '(garbage collection)' : '(no JS frame)')
  } else {
    add(self, nearest)
    add(byPackage, packageOf(nearest))
  }
  for (const frame of new Set(js)) add(inclusive, frame)
  if (leafPattern?.test(leaf)) {
    leafSamples++
    add(fromLeaf, nearest ?? '(no JS frame)')
  }
}

let stack: string[] = []
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (line.trim() === '') {
    flush(stack)
    stack = []
  } else if (line[0] === ' ' || line[0] === '\t') stack.push(symbolOf(line))
}
flush(stack)

const pct = (n: number) => `${((100 * n) / samples).toFixed(1).padStart(5)}%`
const print = (title: string, map: Map<string, number>, count = top) => {
  process.stdout.write(`\n${title}\n`)
  for (const [key, n] of [...map].sort((a, b) => b[1] - a[1]).slice(0, count)) {
    process.stdout.write(`${pct(n)}  ${key}\n`)
  }
}
process.stdout.write(`${samples} samples; in system calls (kernel): ${pct(kernelSyscall)}\n`)
print('by package (nearest JS frame)', byPackage, 20)
print('by function, self (nearest JS frame, with the builtins, runtime and kernel below it)', self)
print('by function, inclusive', inclusive)
if (leafPattern)
  print(`samples whose innermost frame matches /${leafArg}/ (${leafSamples}), by JS function`, fromLeaf)
