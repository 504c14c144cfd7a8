import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import { deleteQueues, unique } from './helpers/broker.js'
import { BROKER_URL, FakeUserManager } from './helpers/fake-user-manager.js'
import { startGateway } from './helpers/gateway.js'

const SECRET = 'gateway-liveness-test-secret-0123456789'

/** A UM on its own queue and a gateway with heartbeats every `intervalMs` (resume on). */
async function startNode(intervalMs: string) {
  const umQueue = unique('test-um')
  const nodeId = unique('test-node')
  const um = await FakeUserManager.start(`/queue/${umQueue}`)
  const gw = await startGateway({
    AMQP_URL: BROKER_URL,
    UM_ADDRESS: `/queue/${umQueue}`,
    BROADCAST_ADDRESS: `/topic/${unique('test-bc')}`,
    GATEWAY_NODE_ID: nodeId,
    GATEWAY_NODE_HEARTBEAT_MS: intervalMs,
    SESSION_RESUME_WINDOW_MS: '60000',
    GATEWAY_RESUME_SECRET: SECRET,
  })
  await until(() => gw.gateway.backend.state === 'open', { timeoutMs: 10_000, what: 'bridge open' })
  const queues = [umQueue, `gateway.node.${nodeId}`, `gateway.takeover.${nodeId}`, um.replyQueue]
  return { um, gw, nodeId, cleanup: () => deleteQueues(queues) }
}

describe('node liveness (PROTOCOL.md 4.3) over the real broker', () => {
  it('NODE_HEARTBEAT every interval with ttl 3 x interval, not durable, counting live and detached sessions; NODE_STOPPED last', async (t) => {
    const { um, gw, nodeId, cleanup } = await startNode('150')
    t.after(async () => {
      await gw.gateway.close()
      await um.close()
      await cleanup()
    })
    const beats = () => um.received.filter((m) => m.body.type === 'NODE_HEARTBEAT')
    const first = await um.waitFor((m) => m.body.type === 'NODE_HEARTBEAT', 5000, 'a heartbeat')
    assert.equal(first.ttl, 450)
    assert.equal(first.durable, false)
    assert.equal(first.replyTo, gw.gateway.backend.nodeReplyTo)
    const body = first.body.type === 'NODE_HEARTBEAT' ? first.body : undefined
    assert.ok(body)
    assert.equal(body.node, nodeId)
    assert.equal(body.intervalMs, 150)
    assert.equal(body.sessions, 0)
    assert.match(body.instance, /^[0-9a-f]{12}$/)

    const client = await TestClient.open(gw.wsUrl)
    const frame = await client.waitFor((f) => f.event === 'session')
    const sid = (frame.data as { sid: string }).sid
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    const seen = beats().length
    await until(
      () =>
        beats()
          .slice(seen)
          .some((m) => m.body.type === 'NODE_HEARTBEAT' && m.body.sessions === 1),
      { timeoutMs: 5000, what: 'a heartbeat counting the live session' },
    )
    client.ws.terminate()
    await um.waitFor((m) => m.body.type === 'CLIENT_DETACHED' && m.body.sid === sid)
    const afterDetach = beats().length
    await until(() => beats().length >= afterDetach + 2, {
      timeoutMs: 5000,
      what: 'two heartbeats after the detach',
    })
    for (const m of beats().slice(afterDetach)) {
      assert.equal(m.body.type === 'NODE_HEARTBEAT' && m.body.sessions, 1, 'a detached session counts')
      assert.equal(m.body.type === 'NODE_HEARTBEAT' && m.body.instance, body.instance)
    }

    await gw.gateway.close()
    const stopped = await um.waitFor((m) => m.body.type === 'NODE_STOPPED', 5000, 'NODE_STOPPED')
    assert.equal(stopped.body.type === 'NODE_STOPPED' && stopped.body.instance, body.instance)
    assert.equal(stopped.body.type === 'NODE_STOPPED' && stopped.body.node, nodeId)
    assert.equal(stopped.durable, true)
    const types = um.received.map((m) => m.body.type)
    assert.equal(types.at(-1), 'NODE_STOPPED', 'the last message of the node')
    assert.ok(types.indexOf('CLIENT_DISCONNECTED') < types.indexOf('NODE_STOPPED'))
    assert.equal(types.filter((t) => t === 'NODE_STOPPED').length, 1)
  })

  it('0 turns heartbeats off (NODE_STOPPED still sent); a new process has a new instance', async (t) => {
    const one = await startNode('0')
    t.after(async () => {
      await one.um.close()
      await one.cleanup()
    })
    const marker = await TestClient.open(one.gw.wsUrl)
    const sid = ((await marker.waitFor((f) => f.event === 'session')).data as { sid: string }).sid
    await one.um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    await one.gw.gateway.close()
    const stopped = await one.um.waitFor((m) => m.body.type === 'NODE_STOPPED')
    assert.deepEqual(
      one.um.received.filter((m) => m.body.type === 'NODE_HEARTBEAT'),
      [],
      'no heartbeat with GATEWAY_NODE_HEARTBEAT_MS=0',
    )
    const two = await startNode('100')
    t.after(async () => {
      await two.gw.gateway.close()
      await two.um.close()
      await two.cleanup()
    })
    const beat = await two.um.waitFor((m) => m.body.type === 'NODE_HEARTBEAT')
    assert.notEqual(
      beat.body.type === 'NODE_HEARTBEAT' && beat.body.instance,
      stopped.body.type === 'NODE_STOPPED' && stopped.body.instance,
    )
  })
})
