import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { PrivateBroker } from '../test/helpers/private-broker.js'
import { runBrokerFaults } from '../test/scenarios/broker-faults.js'

describe('soak: broker faults with long outages (private RabbitMQ node)', () => {
  const broker = new PrivateBroker()
  before(async () => {
    await broker.start()
  })
  after(async () => {
    await broker.destroy()
  })

  it('50 clients at 20 acked events/s each; 30 s outages (stop_app, kill -9); nothing acknowledged lost', async (t) => {
    const report = await runBrokerFaults(
      broker,
      {
        clients: 50,
        perClientPerSec: 20,
        outageMs: 30_000,
        okAfterRecovery: 2000,
        rssBoundBytes: 400 * 1024 * 1024,
        sendTimeoutMs: 10_000,
        lateJoiners: 10,
      },
      (line) => t.diagnostic(line),
    )
    assert.ok(report.unavailable > 0, 'long outages answer UNAVAILABLE')
  })
})
