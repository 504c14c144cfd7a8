import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { until } from '@session-gateway/test-kit'
import { deleteQueues, listQueues, unique } from './helpers/broker.js'
import { BROKER_URL } from './helpers/fake-user-manager.js'
import { type StartedGateway, startGateway } from './helpers/gateway.js'

// Two running nodes with one GATEWAY_NODE_ID share one node queue: CI messages for the sessions of
// either reach the other about half the time. Nothing in the traffic shows it, so each node checks
// when the broker first connects, and says so in its log and in /metrics.
describe('two nodes with the same GATEWAY_NODE_ID (real broker)', () => {
  const nodeId = unique('test-dup-node')
  const env = {
    AMQP_URL: BROKER_URL,
    GATEWAY_NODE_ID: nodeId,
    UM_ADDRESS: `/queue/${unique('test-dup-um')}`,
    BROADCAST_ADDRESS: `/topic/${unique('test-dup-bc')}`,
  }
  const started: StartedGateway[] = []
  after(async () => {
    for (const gw of started) await gw.gateway.close()
    await deleteQueues([
      env.UM_ADDRESS.slice('/queue/'.length),
      ...(await listQueues()).filter((q) => q.includes(nodeId)),
    ])
  })

  const settled = (gw: StartedGateway) =>
    until(() => gw.gateway.backend.nodeIdCheck !== 'pending', {
      timeoutMs: 15_000,
      what: 'the node id check',
    })

  it('the first node finds itself alone; the second finds the first, and says so in /metrics', async () => {
    const first = await startGateway(env)
    started.push(first)
    await settled(first)
    assert.equal(first.gateway.backend.nodeIdCheck, 'unique')

    const second = await startGateway(env)
    started.push(second)
    await settled(second)
    assert.equal(second.gateway.backend.nodeIdCheck, 'conflict')
    const metrics = await (await fetch(`${second.httpUrl}/metrics`)).text()
    assert.match(metrics, /^gateway_node_id_conflict{[^}]*} 1$/m)
    assert.match(
      await (await fetch(`${first.httpUrl}/metrics`)).text(),
      /^gateway_node_id_conflict{[^}]*} 0$/m,
    )
  })

  it('a node with its own id finds itself alone, even beside them', async () => {
    const own = await startGateway({ ...env, GATEWAY_NODE_ID: `${nodeId}-own` })
    started.push(own)
    await settled(own)
    assert.equal(own.gateway.backend.nodeIdCheck, 'unique')
  })
})
