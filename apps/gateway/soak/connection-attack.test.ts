import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runConnectionAttack } from '../test/scenarios/connection-attack.js'

// Enough connections to fill GATEWAY_MAX_CONNECTIONS (11,000: SESSION_MAX + 1000, below this machine's
// 20,000 descriptors): up to 12,000 held open at once from 120 loopback addresses (100 each, the
// per-address cap) in 3 processes, opened at 450/s in all and topped up as the node closes them, for
// 50 s; about 22,500 connections. A slow attack holds connections rather than floods: with a 30 s
// headers timeout, 450/s fill 11,000 slots in about 25 s (a burst of thousands at once only overflows
// the kernel's listen backlog, which is the network's problem: SECURITY.md).
describe('soak: a connection attack that fills the node', () => {
  it('slow and idle clients fill GATEWAY_MAX_CONNECTIONS: the oldest are closed for new ones, legitimate clients get through', async (t) => {
    const report = await runConnectionAttack(
      {
        processes: 3,
        sourcesPerProcess: 40,
        perSource: 100,
        opensPerSecond: 150,
        totalPerProcess: 12_000,
        durationMs: 50_000,
        headersTimeoutMs: 30_000,
        requestTimeoutMs: 60_000,
        maxPendingPerAddress: 100,
        maxConnections: 11_000,
        clients: 400,
        events: 2,
        // As in the CI test, plus the kernel's queue: in a run with the machine at a load of 14-17 the
        // gateway's accepts fell behind at times, the listen backlog (511) overflowed, and connections
        // spent up to 22 s in SYN-ACK retries before the gateway saw them (connects up to 7.4 s). No
        // server setting bounds that; the bounds allow for it and still fail an unbounded connection.
        connectBoundMs: 20_000,
        closeSlackMs: 30_000,
        rssBoundBytes: 500 * 1024 * 1024,
        cpuMsPerConnectionBound: 5,
        sourceBlock: 20,
      },
      (line) => t.diagnostic(line),
    )
    assert.ok(report.peakAttackOpen > 11_000, `the attack held ${report.peakAttackOpen} at once`)
  })
})
