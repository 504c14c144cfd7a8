import assert from 'node:assert/strict'
import { it } from 'node:test'
import { runFuzz } from '../test/scenarios/fuzz.js'

// Replay a run with FUZZ_SEED=<the printed seed>.
it('soak fuzz: 100,000 frames at /ws and 10,000 AMQP bodies at the node address', async (t) => {
  const report = await runFuzz(
    {
      frames: 100_000,
      amqpBodies: 10_000,
      framesPerSession: 5000,
      maxPayload: 64 * 1024,
      batch: 200,
      heapGrowthBoundBytes: 16 * 1024 * 1024,
      rssGrowthBoundBytes: 64 * 1024 * 1024,
    },
    (line) => t.diagnostic(line),
  )
  assert.equal(report.silent, 0)
})
