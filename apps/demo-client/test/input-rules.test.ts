import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeClose } from '../src/describe.js'
import { checkBurstCount, checkChatText, checkJsonData, checkRoomName } from '../src/input-rules.js'

test('room names: required, 1-64 of [A-Za-z0-9_.:-], trimmed', () => {
  assert.deepEqual(checkRoomName('  lobby '), { ok: true, value: 'lobby' })
  assert.equal(checkRoomName('').ok, false)
  assert.equal(checkRoomName('   ').ok, false)
  assert.equal(checkRoomName('two words').ok, false)
  assert.equal(checkRoomName('x'.repeat(65)).ok, false)
  assert.equal(checkRoomName('a.b:c_d-e').ok, true)
})

test('chat text must not be blank', () => {
  assert.equal(checkChatText(' ').ok, false)
  assert.equal(checkChatText('hi').ok, true)
  assert.equal(checkChatText('x'.repeat(2001)).ok, false)
})

test('custom data: empty means none, otherwise JSON', () => {
  assert.deepEqual(checkJsonData(''), { ok: true, value: undefined })
  assert.deepEqual(checkJsonData('{"a":1}'), { ok: true, value: { a: 1 } })
  const bad = checkJsonData('{a:1}')
  assert.equal(bad.ok, false)
  assert.match(bad.ok ? '' : bad.message, /not valid JSON/)
})

test('burst size is a whole number 1..1000', () => {
  assert.deepEqual(checkBurstCount('220'), { ok: true, value: 220 })
  for (const bad of ['0', '1001', '2.5', 'x', '']) assert.equal(checkBurstCount(bad).ok, false, bad)
})

test('close codes read as words', () => {
  assert.equal(describeClose(1001), '1001 (the gateway is shutting down)')
  assert.equal(describeClose(4001, 'kicked'), '4001 (closed by the application: kicked)')
})
