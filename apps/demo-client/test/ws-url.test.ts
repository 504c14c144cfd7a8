import assert from 'node:assert/strict'
import { test } from 'node:test'
import { resolveSocketUrl } from '../src/ws-url.js'

const at = (protocol: string, host: string, search = '') => ({ protocol, host, search })

test('same host: ws for http, wss for https', () => {
  assert.deepEqual(resolveSocketUrl(at('http:', 'localhost:8080')), {
    ok: true,
    url: 'ws://localhost:8080/ws',
  })
  assert.deepEqual(resolveSocketUrl(at('https:', 'gw.example.com')), {
    ok: true,
    url: 'wss://gw.example.com/ws',
  })
})

test('?ws= overrides the URL', () => {
  assert.deepEqual(resolveSocketUrl(at('http:', 'localhost:8080', '?ws=ws%3A%2F%2F127.0.0.1%3A9000%2Fws')), {
    ok: true,
    url: 'ws://127.0.0.1:9000/ws',
  })
})

test('a ?ws= that is not a ws(s) URL is refused with a readable message', () => {
  const bad = resolveSocketUrl(at('http:', 'x', '?ws=http://x/ws'))
  assert.equal(bad.ok, false)
  assert.match(bad.ok ? '' : bad.message, /ws:\/\/ or wss:\/\//)
  const junk = resolveSocketUrl(at('http:', 'x', '?ws=not a url'))
  assert.equal(junk.ok, false)
})
