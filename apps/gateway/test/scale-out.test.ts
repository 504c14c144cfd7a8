import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { TestClient } from '@session-gateway/test-kit'
import { unique } from './helpers/broker.js'
import { type BrokerFixture, startBrokerFixture } from './helpers/broker-fixture.js'
import type { FakeUserManager } from './helpers/fake-user-manager.js'
import type { StartedGateway } from './helpers/gateway.js'

describe('scale-out: three nodes on one broker', () => {
  const umQueue = unique('test-um')
  const broadcast = `/topic/${unique('test-bc')}`
  const nodeIds = [unique('node-a'), unique('node-b'), unique('node-c')]
  let um: FakeUserManager
  let fixture: BrokerFixture | undefined
  const nodes: StartedGateway[] = []
  const sessions: Array<{ client: TestClient; sid: string; replyTo: string; node: string }> = []

  before(async () => {
    fixture = await startBrokerFixture({ umQueue, broadcast, nodeIds })
    um = fixture.um
    nodes.push(...fixture.nodes)
    // Two sessions per node.
    for (const node of nodes) {
      for (let i = 0; i < 2; i++) {
        const client = await TestClient.open(node.wsUrl)
        const sid = await client.sid()
        const connected = await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
        sessions.push({ client, sid, replyTo: connected.replyTo ?? '', node: connected.body.node })
      }
    }
  })
  after(async () => {
    for (const s of sessions) await s.client.close().catch(() => {})
    await fixture?.close()
  })

  /**
   * How many RESULTs the message `id` sent to the broadcast address got, once every node has
   * answered everything sent there before: a PING sent after it on the same address reaches each
   * node's broadcast queue after it, and each node answers in order, so its 3 RESULTs come after
   * any RESULT to `id`.
   */
  async function resultsAfterBarrier(id: string): Promise<number> {
    const barrier = await um.send(broadcast, { type: 'PING', v: 1 }, { reply: true })
    await um.waitResults(barrier, 3)
    return um.results.get(id)?.length ?? 0
  }

  it('a CI message sent to the reply_to of CLIENT_CONNECTED reaches exactly the node that holds the session', async () => {
    assert.equal(new Set(sessions.map((s) => s.replyTo)).size, 3)
    for (const s of sessions) {
      const result = await um.request(s.replyTo, {
        type: 'EMIT',
        v: 1,
        sid: s.sid,
        event: 'direct',
        data: s.sid,
      })
      assert.deepEqual(result, { type: 'RESULT', v: 1, ok: true, data: { delivered: 1 } })
      assert.equal((await s.client.event('direct')).data, s.sid)
    }
    for (const s of sessions) assert.equal(s.client.frames.filter((f) => f.event === 'direct').length, 0)
  })

  it('BROADCAST on the broadcast address reaches every session on every node, one RESULT per node', async () => {
    const id = await um.send(
      broadcast,
      { type: 'BROADCAST', v: 1, event: 'everyone', data: 1 },
      { reply: true },
    )
    const results = await um.waitResults(id, 3)
    assert.deepEqual(
      results.map((r) => (r.ok ? r.data.delivered : -1)),
      [2, 2, 2],
    )
    assert.equal(await resultsAfterBarrier(id), 3, 'one RESULT per node, no more')
    for (const s of sessions) await s.client.event('everyone')
  })

  it('ROOM_EMIT on the broadcast address reaches the room members on every node', async () => {
    const room = unique('room')
    const members = [sessions[0], sessions[2], sessions[4]].filter((s) => s !== undefined)
    for (const m of members)
      assert.equal((await um.request(m.replyTo, { type: 'JOIN', v: 1, sid: m.sid, room })).ok, true)
    const id = await um.send(
      broadcast,
      { type: 'ROOM_EMIT', v: 1, room, event: 'room.news' },
      { reply: true },
    )
    const results = await um.waitResults(id, 3)
    assert.deepEqual(
      results.map((r) => (r.ok ? r.data.delivered : -1)),
      [1, 1, 1],
    )
    assert.equal(await resultsAfterBarrier(id), 3, 'one RESULT per node, no more')
    for (const m of members) await m.client.event('room.news')
    for (const s of sessions.filter((x) => !members.includes(x))) {
      assert.equal(
        s.client.frames.some((f) => f.event === 'room.news'),
        false,
      )
    }
  })

  it('a SID-targeted message on the broadcast address is answered only by the node that holds the SID', async () => {
    const target = sessions[3]
    assert.ok(target)
    const id = await um.send(broadcast, { type: 'SESSION_INFO', v: 1, sid: target.sid }, { reply: true })
    const [result] = await um.waitResults(id, 1)
    assert.ok(result?.ok && result.data.node === target.node)
    // The other nodes settle it and say nothing.
    assert.equal(await resultsAfterBarrier(id), 1)
  })
})
