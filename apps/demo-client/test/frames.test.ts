import assert from 'node:assert/strict'
import { test } from 'node:test'
import { classifyFrame } from '../src/frames.js'

test('replies, events and error frames are told apart', () => {
  assert.equal(classifyFrame('{"id":1,"ok":true,"data":{"sid":"x"}}').kind, 'reply')
  assert.equal(
    classifyFrame('{"id":"a7","ok":false,"error":{"code":"RATE_LIMITED","message":"slow down"}}').kind,
    'reply',
  )
  assert.equal(classifyFrame('{"event":"echo","data":{"text":"hi"}}').kind, 'event')
  assert.equal(classifyFrame('{"event":"room.left"}').kind, 'event')
  assert.equal(
    classifyFrame('{"event":"error","data":{"code":"BAD_FRAME","message":"not JSON"}}').kind,
    'error',
  )
})

test('frames that break the ServerFrame schema are protocol warnings, with the reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['not json', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['{"id":1,"ok":"yes"}', /ServerFrame/],
    ['{"event":"echo","extra":1}', /ServerFrame/],
    ['{"id":1,"ok":false}', /ServerFrame/],
    ['{"event":"error","data":"boom"}', /error/],
  ]
  for (const [text, reason] of cases) {
    const got = classifyFrame(text)
    assert.equal(got.kind, 'invalid', text)
    assert.match(got.kind === 'invalid' ? got.reason : '', reason, text)
  }
})
