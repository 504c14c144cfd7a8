import assert from 'node:assert/strict'
import { test } from 'node:test'
import { backoffDelay, DEFAULT_BACKOFF } from '../src/backoff.js'

test('the ceiling doubles per attempt up to the maximum', () => {
  const top = () => 1
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, DEFAULT_BACKOFF, top)),
    [500, 1000, 2000, 4000, 8000, 10_000, 10_000],
  )
})

test('jitter keeps each delay in the upper half of its ceiling', () => {
  for (let attempt = 0; attempt < 8; attempt++) {
    const ceiling = Math.min(DEFAULT_BACKOFF.maxMs, DEFAULT_BACKOFF.baseMs * 2 ** attempt)
    assert.equal(
      backoffDelay(attempt, DEFAULT_BACKOFF, () => 0),
      ceiling / 2,
    )
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(attempt)
      assert.ok(d >= ceiling / 2 && d <= ceiling, `attempt ${attempt}: ${d}`)
    }
  }
})
