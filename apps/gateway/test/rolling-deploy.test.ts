import { describe, it } from 'node:test'
import { assertInvisibleDeploy, runRollingDeploy } from './scenarios/rolling-deploy.js'

describe('a rolling deploy of one node out of two, under steady EMITs', () => {
  it('200 reconnecting clients: every EMIT answered ok delivered once in order, CLIENT_RESUMED, exit 0', {
    timeout: 180_000,
  }, async (t) => {
    const report = await runRollingDeploy({ clients: 200, emitIntervalMs: 100, emitsPerPhase: 5 }, (line) =>
      t.diagnostic(line),
    )
    assertInvisibleDeploy(report)
  })
})
