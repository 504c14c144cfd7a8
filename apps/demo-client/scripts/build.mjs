// Bundles the page for the browser: dist/main.js (+ map), dist/styles.css, dist/index.html.
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const src = join(root, 'src')
const dist = join(root, 'dist')

await rm(dist, { recursive: true, force: true })
await mkdir(dist, { recursive: true })

const result = await build({
  entryPoints: [join(src, 'main.ts'), join(src, 'styles.css')],
  outdir: dist,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
})
await copyFile(join(src, 'index.html'), join(dist, 'index.html'))

const sizes = Object.entries(result.metafile.outputs)
  .filter(([file]) => !file.endsWith('.map'))
  .map(([file, out]) => `${file.slice(file.lastIndexOf('/') + 1)} ${(out.bytes / 1024).toFixed(1)} KiB`)
console.log(`demo-client built: ${sizes.join(', ')}`)
