import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import { unique } from './helpers/broker.js'
import { type BrokerFixture, startBrokerFixture } from './helpers/broker-fixture.js'
import { BROKER, type FakeUserManager } from './helpers/fake-user-manager.js'
import type { StartedGateway } from './helpers/gateway.js'
import { TcpProxy } from './helpers/tcp-proxy.js'

// A load balancer restart or a network blip drops every session of a node at once. The outbox
// bound (AMQP_OUTBOX_LIMIT) pushes back on client events, but the CLIENT_DISCONNECTED of each
// session cannot be retried by anyone: none may be lost to it while the broker is up.
describe('mass disconnect over the real broker', () => {
  const umQueue = unique('test-um-mass')
  const nodeId = unique('test-node-mass')
  const sessions = 200
  const outboxLimit = 5
  let um: FakeUserManager
  let fixture: BrokerFixture | undefined
  let gw: StartedGateway
  // The gateway reaches the broker through this proxy; holding the broker's side keeps every
  // CLIENT_DISCONNECTED unaccepted, so the outbox must hold them all at once.
  let proxy: TcpProxy

  before(async () => {
    proxy = await TcpProxy.start(BROKER.port, BROKER.host)
    fixture = await startBrokerFixture({
      umQueue,
      nodeIds: [nodeId],
      amqpUrl: `amqp://${BROKER.username}:${BROKER.password}@127.0.0.1:${proxy.port}`,
      env: { AMQP_OUTBOX_LIMIT: String(outboxLimit) },
    })
    ;({ um, gw } = fixture)
    // The node id check (PINGs to itself) uses the outbox too: let it finish before the bound is tested.
    await until(() => gw.gateway.backend.nodeIdCheck !== 'pending', {
      timeoutMs: 15_000,
      what: 'the node id check',
    })
  })
  after(async () => {
    proxy?.release('toClient')
    await fixture?.close()
    await proxy?.close()
  })

  it(`reports CLIENT_DISCONNECTED for each of ${sessions} sessions dropped at once, with the outbox bound at ${outboxLimit}`, async (t) => {
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

    // A session that stays: its client events are what the bound applies to.
    const stayer = await TestClient.open(gw.wsUrl)
    await stayer.sid()

    // The broker's outcomes are held from here: nothing the gateway sends is accepted until release.
    proxy.hold('toClient')
    t.after(() => proxy.release('toClient'))
    for (const client of clients) client.ws.terminate()
    const live = () => {
      const stats = gw.gateway.backend.stats()
      return stats.outboxDepth + stats.inFlight
    }
    await until(() => live() >= sessions, {
      timeoutMs: 10_000,
      what: `all ${sessions} CLIENT_DISCONNECTEDs in the outbox at once`,
    })
    assert.ok(live() > outboxLimit, `the outbox held ${live()}, past its bound of ${outboxLimit}`)
    // Past the bound, a client event is refused at once (before any broker outcome could come).
    const refused = await stayer.request('during', {})
    assert.equal(refused.ok, false)
    assert.equal(refused.error?.code, 'UNAVAILABLE')
    // The bridge's UNAVAILABLE (outbox full), not a TIMEOUT: the bound refused it.
    assert.match(refused.error?.message ?? '', /\(UNAVAILABLE\)/)
    proxy.release('toClient')

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
    await until(() => live() === 0, {
      timeoutMs: 5000,
      what: 'outbox drained (nothing waiting or in flight)',
    })

    // The bound still pushes back on client events: it was never raised, only not applied to these.
    assert.deepEqual(await stayer.request('after', {}), { id: 3, ok: true })
    await stayer.close()
  })
})
