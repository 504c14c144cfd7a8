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
        opensPerSecond: 200,
        totalPerProcess: 1500,
        durationMs: 6000,
        headersTimeoutMs: 2000,
        requestTimeoutMs: 4000,
        maxPendingPerAddress: 100,
        clients: 100,
        events: 2,
        // Bounds that a loaded 2-core machine cannot reach by slowness alone: a connect takes 5-50 ms
        // here when idle, and Node times a connection out within its check interval (500 ms here) of the
        // timeout. But what the attacker measures includes the kernel's accept queue: with the machine
        // at a load of 15 (other test runs), the gateway got about a tenth of a core and connections
        // were seen closed up to 4-6 s late, and connects took up to 4-6 s. What these bounds catch is a
        // connection that is not bounded (Node's old default: 60-90 s; none: it lives to the end of the
        // grace period and counts as left open) or a node that stops answering.
        connectBoundMs: 20_000,
        closeSlackMs: 20_000,
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
