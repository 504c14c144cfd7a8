import { describe, it } from 'node:test'
import { assertInvisibleDeploy, runRollingDeploy } from '../test/scenarios/rolling-deploy.js'

describe('soak: a rolling deploy at the issue numbers', () => {
  it('1000 reconnecting clients under steady EMITs: zero loss, zero duplicates, CLIENT_RESUMED, exit 0', {
    timeout: 600_000,
  }, async (t) => {
    const report = await runRollingDeploy({ clients: 1000, emitIntervalMs: 200, emitsPerPhase: 20 }, (line) =>
      t.diagnostic(line),
    )
    assertInvisibleDeploy(report)
  })
})
