import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { deleteQueues, unique } from './helpers/broker.js'
import { BROKER_URL, FakeUserManager } from './helpers/fake-user-manager.js'
import { type StartedGateway, startGateway, until } from './helpers/gateway.js'
import { TestClient } from './helpers/ws-client.js'

// A load balancer restart or a network blip drops every session of a node at once. The outbox
// bound (AMQP_OUTBOX_LIMIT) pushes back on client events, but the CLIENT_DISCONNECTED of each
// session cannot be retried by anyone: none may be lost to it while the broker is up.
describe('mass disconnect over the real broker', () => {
  const umQueue = unique('test-um-mass')
  const nodeId = unique('test-node-mass')
  const sessions = 200
  const outboxLimit = 5
  let um: FakeUserManager
  let gw: StartedGateway

  before(async () => {
    um = await FakeUserManager.start(`/queue/${umQueue}`)
    gw = await startGateway({
      AMQP_URL: BROKER_URL,
      UM_ADDRESS: `/queue/${umQueue}`,
      GATEWAY_NODE_ID: nodeId,
      AMQP_OUTBOX_LIMIT: String(outboxLimit),
    })
    await until(() => gw.gateway.backend.state === 'open', 10_000, 'bridge open')
    // The node id check (PINGs to itself) uses the outbox too: let it finish before the bound is tested.
    await until(() => gw.gateway.backend.nodeIdCheck !== 'pending', 15_000, 'the node id check')
  })
  after(async () => {
    await gw?.gateway.close()
    await um?.close()
    await deleteQueues([umQueue, `gateway.node.${nodeId}`, um.replyQueue])
  })

  it(`reports CLIENT_DISCONNECTED for each of ${sessions} sessions dropped at once, with the outbox bound at ${outboxLimit}`, async () => {
    const clients: TestClient[] = []
    const sids: string[] = []
    // One at a time: each CLIENT_CONNECTED is accepted before the next connect (the bound applies to it).
    for (let i = 0; i < sessions; i++) {
      const client = await TestClient.open(gw.wsUrl)
      clients.push(client)
      sids.push(await client.sid())
    }
    await um.waitForCount(
      (m) => m.body.type === 'CLIENT_CONNECTED' && sids.includes(m.body.sid),
      sessions,
      10_000,
    )

    for (const client of clients) client.ws.terminate()
    const gone = await um.waitForCount(
      (m) => m.body.type === 'CLIENT_DISCONNECTED' && sids.includes(m.body.sid),
      sessions,
      20_000,
    )
    assert.equal(
      new Set(gone.map((m) => ('sid' in m.body ? m.body.sid : ''))).size,
      sessions,
      'one per session',
    )
    await until(() => gw.gateway.backend.stats().outboxDepth === 0, 5000, 'outbox drained')

    // The bound still pushes back on client events: it was never raised, only not applied to these.
    const client = await TestClient.open(gw.wsUrl)
    assert.deepEqual(await client.request('after', {}), { id: 1, ok: true })
    await client.close()
  })
})
