// Writes the README examples marked `<!-- check-packages: FILE -->` (the fenced block right after
// the marker) into a folder, so that they are compiled and run exactly as printed.
// usage: node extract-examples.mjs DEST README...
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const [dest, ...readmes] = process.argv.slice(2)
const marker = /<!-- check-packages: ([\w.-]+) -->\s*\n```\w*\n([\s\S]*?)\n```/g
for (const readme of readmes) {
  const text = readFileSync(readme, 'utf8')
  let found = 0
  for (const [, file, code] of text.matchAll(marker)) {
    writeFileSync(join(dest, file), `${code}\n`)
    process.stdout.write(`${file}\n`)
    found++
  }
  if (found === 0) {
    process.stderr.write(`${readme}: no example marked <!-- check-packages: FILE -->\n`)
    process.exit(1)
  }
}
