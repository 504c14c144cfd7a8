import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runClientFlood } from '../test/scenarios/client-flood.js'
import { runSlowConsumer } from '../test/scenarios/slow-consumer.js'

describe('soak: floods at the issue numbers', () => {
  it('the CI sends 100 MB to a client that stopped reading', async (t) => {
    const report = await runSlowConsumer(
      {
        totalBytes: 100 * 1024 * 1024,
        chunkBytes: 64 * 1024,
        probes: 5,
        rssGrowthBoundBytes: 160 * 1024 * 1024,
      },
      (line) => t.diagnostic(line),
    )
    assert.equal(report.closeCodeAtUm, 1013)
  })

  it('one client at 10,000 frames/s for 60 s, reconnecting after every 1008', async (t) => {
    const report = await runClientFlood(
      { durationMs: 60_000, framesPerSec: 10_000, probes: 5, rssBoundBytes: 300 * 1024 * 1024 },
      (line) => t.diagnostic(line),
    )
    assert.ok(report.sessions > 10)
  })
})
