import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { PrivateBroker } from './helpers/private-broker.js'
import { runBrokerFaults } from './scenarios/broker-faults.js'

describe('broker faults under traffic (private RabbitMQ node, the built gateway)', () => {
  const broker = new PrivateBroker()

  before(async () => {
    await broker.start()
  })
  after(async () => {
    await broker.destroy()
  })

  it('50 clients: stop_app/start_app, then kill -9 + restart; nothing acknowledged is lost', async (t) => {
    const report = await runBrokerFaults(
      broker,
      {
        clients: 50,
        perClientPerSec: 10,
        outageMs: 2000,
        okAfterRecovery: 500,
        rssBoundBytes: 250 * 1024 * 1024,
        sendTimeoutMs: 10_000,
        // 2 s outages are shorter than the send timeout: refusals come from a full outbox.
        outboxLimit: 1000,
        lateJoiners: 5,
      },
      (line) => t.diagnostic(line),
    )
    assert.ok(report.ok > 0)
  })
})
