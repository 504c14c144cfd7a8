import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runClientFlood } from './scenarios/client-flood.js'
import { runBriefStall, runSlowConsumer } from './scenarios/slow-consumer.js'

// CI-time sizes; soak/flood.test.ts runs the numbers (100 MB, a minute of flooding).
describe('floods (the built gateway, real broker)', () => {
  it('the CI sends 20 MB to a client that stopped reading: 1013, RSS bounded, other sessions keep their round trips', async (t) => {
    const report = await runSlowConsumer(
      {
        totalBytes: 20 * 1024 * 1024,
        chunkBytes: 64 * 1024,
        probes: 3,
        rssGrowthBoundBytes: 128 * 1024 * 1024,
      },
      (line) => t.diagnostic(line),
    )
    assert.equal(report.closeCodeAtUm, 1013)
  })

  it('a client that stalls, then reads again, drains its buffer and gets the close frame 1013', async (t) => {
    const report = await runBriefStall((line) => t.diagnostic(line))
    assert.equal(report.code, 1013)
  })

  it('one client sends 10,000 frames/s for 3 s: RATE_LIMITED, then 1008, every time it reconnects; others keep working', async (t) => {
    const report = await runClientFlood(
      { durationMs: 3000, framesPerSec: 10_000, probes: 5, rssBoundBytes: 300 * 1024 * 1024 },
      (line) => t.diagnostic(line),
    )
    assert.ok(report.sessions >= 2)
  })
})
