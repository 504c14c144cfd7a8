import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { Parser } from '@asyncapi/parser'
import {
  buildAsyncApiDocument,
  CI_MESSAGE_TYPES,
  TAKEOVER_MESSAGE_TYPES,
  UM_MESSAGE_TYPES,
} from '../src/index.js'

describe('AsyncAPI document', () => {
  it('passes @asyncapi/parser with no errors', async () => {
    const parser = new Parser()
    const { document, diagnostics } = await parser.parse(JSON.stringify(buildAsyncApiDocument()))
    const errors = diagnostics.filter((d) => d.severity === 0)
    assert.deepEqual(
      errors.map((e) => `${e.code}: ${e.message} at ${e.path.join('.')}`),
      [],
    )
    assert.ok(document)
    assert.equal(document.version(), '3.0.0')
  })
  it('describes every message of the protocol', () => {
    const doc = buildAsyncApiDocument() as { components: { messages: Record<string, unknown> } }
    for (const name of [
      ...TAKEOVER_MESSAGE_TYPES,
      ...UM_MESSAGE_TYPES,
      ...CI_MESSAGE_TYPES,
      'RESULT',
      'ClientFrame',
      'SessionFrame',
      'EventFrame',
      'ReplyFrame',
      'ErrorFrame',
    ]) {
      assert.ok(doc.components.messages[name], `missing ${name}`)
    }
  })
  it('is written as JSON at build time, equal to the built document', () => {
    const written = JSON.parse(readFileSync(new URL('../dist/asyncapi.json', import.meta.url), 'utf8'))
    assert.deepEqual(written, buildAsyncApiDocument())
  })
})
