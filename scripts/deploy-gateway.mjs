#!/usr/bin/env node
// Makes the gateway's deploy folder: `pnpm deploy --prod` (the built app and its production
// dependencies only), then removes what ties that folder to the build machine. pnpm copies the
// workspace packages in as `file:` dependencies named after their absolute path on this machine
// (in package.json, in its lockfiles, and in node_modules/.pnpm folder names); the result runs
// from anywhere, but would show the build machine's paths and fail a later `pnpm install`.
// Here: package.json names versions, the lockfiles go (node_modules is complete), the .pnpm
// folders are renamed <name>@<version> with their links re-pointed.
//
// usage: node scripts/deploy-gateway.mjs DEST   (after `pnpm build`; DEST must not exist)
import { execFileSync } from 'node:child_process'
import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dest = process.argv[2] ? resolve(process.argv[2]) : undefined
if (!dest) {
  process.stderr.write('usage: node scripts/deploy-gateway.mjs DEST\n')
  process.exit(2)
}
if (existsSync(dest)) {
  process.stderr.write(`deploy-gateway: ${dest} exists; give a new folder\n`)
  process.exit(2)
}

execFileSync('pnpm', ['deploy', '--filter', '@session-gateway/gateway', '--prod', dest], {
  cwd: root,
  stdio: ['ignore', 'ignore', 'inherit'],
})

/** `name@file:///abs/path` -> the version in that package's package.json. */
const versionOf = (spec) => {
  const path = /@file:(?:\/\/)?(\/.*)$/.exec(spec)?.[1]
  return path ? JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')).version : undefined
}

const manifestPath = join(dest, 'package.json')
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'))
const renames = new Map() // .pnpm folder name -> new name
for (const [name, spec] of Object.entries(manifest.dependencies ?? {})) {
  const version = versionOf(spec)
  if (!version) continue
  manifest.dependencies[name] = version
}
// Only what runs in the deploy folder (build, typecheck and tests need the workspace).
manifest.scripts = Object.fromEntries(
  Object.entries(manifest.scripts ?? {}).filter(([name]) => name.startsWith('start')),
)
delete manifest.devDependencies
delete manifest.optionalDependencies
writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`)

for (const file of [
  'pnpm-lock.yaml',
  'pnpm-workspace.yaml',
  'node_modules/.modules.yaml',
  'node_modules/.pnpm/lock.yaml',
]) {
  rmSync(join(dest, file), { force: true })
}

const store = join(dest, 'node_modules', '.pnpm')
for (const folder of readdirSync(store)) {
  const match = /^(.+?)@file\+.*$/.exec(folder)
  if (!match) continue
  const name = match[1].replace('+', '/')
  const version = JSON.parse(
    readFileSync(join(store, folder, 'node_modules', name, 'package.json'), 'utf8'),
  ).version
  renames.set(folder, `${match[1]}@${version}`)
}
for (const [from, to] of renames) renameSync(join(store, from), join(store, to))

/** Re-points every link under `dir` whose target names a renamed folder. */
function relink(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isSymbolicLink()) {
      const target = readlinkSync(path)
      let next = target
      for (const [from, to] of renames) next = next.split(`/${from}/`).join(`/${to}/`)
      if (next !== target) {
        unlinkSync(path)
        symlinkSync(next, path)
      }
    } else if (entry.isDirectory()) {
      relink(path)
    }
  }
}
relink(join(dest, 'node_modules'))
process.stdout.write(`deploy-gateway: ${dest} (run: node ${join(dest, 'dist/main.js')})\n`)
