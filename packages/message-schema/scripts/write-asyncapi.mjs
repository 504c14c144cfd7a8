// Writes dist/asyncapi.json from the built schemas (run after tsc).
import { writeFileSync } from 'node:fs'
import { buildAsyncApiDocument } from '../dist/index.js'

const url = new URL('../dist/asyncapi.json', import.meta.url)
writeFileSync(url, `${JSON.stringify(buildAsyncApiDocument(), null, 2)}\n`)
