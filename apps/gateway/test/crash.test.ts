import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { until } from '@session-gateway/test-kit'
import { AckClient } from './helpers/ack-client.js'
import { deleteQueues, listQueues, unique } from './helpers/broker.js'
import { type ChildGateway, spawnGateway } from './helpers/child-gateway.js'
import { BROKER_URL, FakeUserManager } from './helpers/fake-user-manager.js'

const run = promisify(execFile)

describe('gateway crash: kill -9 of a node (the built entry point, real broker)', () => {
  // A prefix of this run's own: the expiry policy applies to its node queues only, and only to the
  // first test's (a, b). The restart test's node-c must keep its queue while the node is down, however
  // long the restart takes on a loaded machine: with the 2 s expiry it went, with the stale message.
  const prefix = unique('crash')
  const policy = `test-${prefix}`
  const expiresMs = 2000
  const umQueue = `${prefix}.um`
  const nodes: ChildGateway[] = []
  let um: FakeUserManager

  const nodeEnv = (name: string) => ({
    AMQP_URL: BROKER_URL,
    UM_ADDRESS: `/queue/${umQueue}`,
    BROADCAST_ADDRESS: `/topic/${prefix}.bc`,
    GATEWAY_NODE_ID: `${prefix}-${name}`,
    NODE_ADDRESS: `/queue/${prefix}.node-${name}`,
    NODE_REPLY_TO: `/amq/queue/${prefix}.node-${name}`,
    LOG_LEVEL: 'warn',
  })
  const start = async (name: string) => {
    const node = await spawnGateway(nodeEnv(name))
    nodes.push(node)
    return node
  }

  before(async () => {
    await run('rabbitmqctl', [
      '-q',
      'set_policy',
      policy,
      `^${prefix.replace(/[.-]/g, (c) => `\\${c}`)}\\.node-[ab]$`,
      JSON.stringify({ expires: expiresMs }),
      '--apply-to',
      'queues',
      '--priority',
      '10',
    ])
    um = await FakeUserManager.start(`/queue/${umQueue}`)
  })
  after(async () => {
    for (const node of nodes) await node.kill()
    await um?.close()
    await run('rabbitmqctl', ['-q', 'clear_policy', policy]).catch(() => {})
    const left = (await listQueues()).filter((q) => q.startsWith(prefix))
    await deleteQueues([...left, um.replyQueue])
  })

  it('loses nothing acknowledged; the new node tells the UM nothing false; the dead queue expires by policy', async () => {
    const a = await start('a')
    const clients = await Promise.all([1, 2, 3].map(() => AckClient.open(a.wsUrl)))
    const deadSids = clients.map((c) => c.sid)
    for (const sid of deadSids) {
      await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
    }
    const deadReplyTo = (um.received.find(
      (m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === deadSids[0],
    )?.replyTo ?? '') as string
    assert.equal(deadReplyTo, `/amq/queue/${prefix}.node-a`)

    // Steady acked traffic, then kill -9 in the middle of it.
    for (const c of clients) c.startSteady('crash.tick', 50)
    await until(() => clients.every((c) => c.eventRecords().filter((r) => r.outcome === 'ok').length >= 20), {
      timeoutMs: 10_000,
      what: 'traffic',
    })
    a.child.kill('SIGKILL')
    const exit = await a.exited
    assert.equal(exit.signal, 'SIGKILL')
    for (const c of clients)
      await c.waitFor(() => c.closeInfo !== undefined, 5000, 'the connection to drop').catch(() => {})
    for (const c of clients) {
      assert.equal(c.closeInfo?.code, 1006, 'a crashed node closes nothing cleanly: the client sees 1006')
    }

    // What a crash does not lose: every event a client saw ok:true for is at the UM.
    const acked = clients.flatMap((c) =>
      c
        .eventRecords()
        .filter((r) => r.outcome === 'ok')
        .map((r) => `${c.sid} ${r.id}`),
    )
    const atUm = () =>
      new Set(
        um.received
          .filter((m) => m.body.type === 'CLIENT_EVENT')
          .map((m) => (m.body.type === 'CLIENT_EVENT' ? `${m.body.sid} ${String(m.body.requestId)}` : '')),
      )
    await until(() => acked.every((k) => atUm().has(k)), {
      timeoutMs: 10_000,
      what: 'every acknowledged event at the UM',
    })
    // What it does lose: the requests still waiting for the broker got no reply (unknown outcome).
    const unanswered = clients.flatMap((c) => c.eventRecords().filter((r) => r.outcome === undefined)).length

    // A new node starts (new id, its own queue) and serves.
    const b = await start('b')
    const marker = await AckClient.open(b.wsUrl)
    const markerSid = marker.sid
    marker.close()
    await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === markerSid, 10_000)
    // The UM learned nothing false: no CLIENT_DISCONNECTED for the dead node's sessions, from anyone,
    // and nothing at all from the new node about them.
    const aboutDead = um.received.filter(
      (m) =>
        (m.body.type === 'CLIENT_DISCONNECTED' || m.body.type === 'CLIENT_EVENT') &&
        deadSids.includes(m.body.sid) &&
        m.body.node !== `${prefix}-a`,
    )
    assert.deepEqual(aboutDead, [])
    assert.equal(
      um.received.filter((m) => m.body.type === 'CLIENT_DISCONNECTED' && deadSids.includes(m.body.sid))
        .length,
      0,
      'a dead node sessions never get CLIENT_DISCONNECTED',
    )

    // How the UM finds out: PING to the dead node's reply_to gets no RESULT, the live one answers.
    const live = await um.request(`/amq/queue/${prefix}.node-b`, { type: 'PING', v: 1 }, 5000)
    assert.ok(live.ok && live.data.node === `${prefix}-b`)
    await assert.rejects(um.request(deadReplyTo, { type: 'PING', v: 1 }, 1500), /timed out/)
    // EMIT to a dead session: accepted by the broker into the dead queue, answered by nobody.
    await assert.rejects(
      um.request(deadReplyTo, { type: 'EMIT', v: 1, sid: deadSids[0], event: 'x' }, 1000),
      /timed out/,
    )

    // The dead node's queue goes away by the expiry policy (no consumer for expiresMs), with what it held.
    await until(async () => !(await listQueues()).includes(`${prefix}.node-a`), {
      timeoutMs: 30_000,
      what: 'the dead node queue to expire',
    })
    const queues = await listQueues()
    assert.ok(queues.includes(`${prefix}.node-b`), 'the live node keeps its queue')
    console.log(
      `# crash: ${acked.length} acked events all at the UM, ${unanswered} requests unanswered at the kill, dead queue expired`,
    )
  })

  it('a node restarted with the same id answers stale CI messages for the dead sessions SESSION_NOT_FOUND', async () => {
    const c1 = await start('c')
    const client = await AckClient.open(c1.wsUrl)
    const deadSid = client.sid
    await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === deadSid)
    c1.child.kill('SIGKILL')
    await c1.exited
    // While the node is down, the CI sends to the dead session: the message waits in the node's queue.
    const stale = await um.send(
      `/amq/queue/${prefix}.node-c`,
      { type: 'EMIT', v: 1, sid: deadSid, event: 'late' },
      { reply: true },
    )
    // Restarted (same id, same queue) before the queue expired.
    await start('c')
    const [result] = await um.waitResults(stale, 1, 15_000)
    assert.ok(result && !result.ok && result.error.code === 'SESSION_NOT_FOUND')
    assert.equal(
      um.received.filter((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === deadSid).length,
      0,
    )
  })
})
