import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runConnectionAttack } from './scenarios/connection-attack.js'

// CI sizes: about 3,000 attack connections from 6 loopback addresses in 2 processes, in a few seconds
// (soak/connection-attack.test.ts runs enough to fill GATEWAY_MAX_CONNECTIONS). The attack connections
// are closed by the server (or reset by the attacker at the end), so that this side leaves no TIME_WAIT.
describe('connection-level attack (the built gateway, real broker)', () => {
  it('idle partial headers, dribbled headers, slow bodies and silent connections are closed within their timeouts; legitimate clients get through', async (t) => {
    const report = await runConnectionAttack(
      {
        processes: 2,
        sourcesPerProcess: 3,
        perSource: 105,
        opensPerSecond: 300,
        totalPerProcess: 1500,
        durationMs: 6000,
        headersTimeoutMs: 2000,
        requestTimeoutMs: 4000,
        maxPendingPerAddress: 100,
        clients: 100,
        events: 2,
        // Bounds that a loaded 2-core machine cannot reach by slowness alone: a connect takes 1-50 ms
        // here, and Node times connections out within its check interval (500 ms here) of the timeout.
        // What these bounds catch is a connection that is not bounded at all (it would live to the end
        // of the grace period) or a node that stops answering.
        connectBoundMs: 10_000,
        closeSlackMs: 10_000,
        rssBoundBytes: 300 * 1024 * 1024,
        cpuMsPerConnectionBound: 5,
        sourceBlock: 10,
      },
      (line) => t.diagnostic(line),
    )
    // Past the per-address cap, connections were refused at once.
    assert.ok((report.refused.per_address ?? 0) > 0, 'per-address refusals counted')
  })
})
