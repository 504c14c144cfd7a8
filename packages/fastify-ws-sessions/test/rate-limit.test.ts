import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TokenBucket } from '../src/rate-limit.js'

describe('TokenBucket', () => {
  it('gives back a token exactly when it is due, whatever float rounding the clock values bring', () => {
    // From 984.205 ms, 499 ms then 1 ms at 2/s sum to 0.9999999999999998 tokens in floats: the
    // token that is due must still be there (performance.now() is fractional, so such starts occur).
    const start = 984.205
    const bucket = new TokenBucket(2, 1, start)
    assert.equal(bucket.take(start), true)
    assert.equal(bucket.take(start + 499), false)
    assert.equal(bucket.take(start + 499 + 1), true)
    assert.equal(bucket.take(start + 499 + 1), false)
    assert.equal(bucket.msUntilToken(start + 499 + 1), 500)
  })

  it('never holds more than the burst, and a full bucket reads as full', () => {
    const bucket = new TokenBucket(10, 3, 0)
    assert.equal(bucket.isFull(0), true)
    for (let i = 0; i < 3; i++) assert.equal(bucket.take(1_000_000), true)
    assert.equal(bucket.take(1_000_000), false)
    assert.equal(bucket.isFull(1_000_300), true)
  })
})
