import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Result } from '@session-gateway/message-schema'
import { TestClient, until } from '@session-gateway/test-kit'
import { unique } from './helpers/broker.js'
import { type BrokerFixture, startBrokerFixture } from './helpers/broker-fixture.js'
import type { FakeUserManager } from './helpers/fake-user-manager.js'
import type { StartedGateway } from './helpers/gateway.js'
import { jwtFor, TEST_JWT_SECRET } from './helpers/jwt.js'

interface Held {
  client: TestClient
  sid: string
  user: string
  node: number
}

/** The RESULT data of each answering node, by node id when it names one (asserts every RESULT is ok). */
function byNode(results: Result[]): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>()
  for (const r of results) {
    assert.ok(r.ok, JSON.stringify(r))
    out.set(String(r.data.node ?? `#${out.size}`), r.data)
  }
  return out
}

describe('users and presence across two nodes, authentication on (PROTOCOL.md 4.2)', () => {
  const umQueue = unique('test-um')
  const broadcast = `/topic/${unique('test-bc')}`
  const nodeIds = [unique('users-a'), unique('users-b')]
  const nodes: StartedGateway[] = []
  const held: Held[] = []
  const replyTo: string[] = []
  let um: FakeUserManager
  let fixture: BrokerFixture | undefined
  /** A user (fresh per test) with `perNode[i]` sessions on node i. */
  const sessionsOf = async (user: string, perNode: number[]) => {
    const out: Held[] = []
    for (const [node, count] of perNode.entries()) {
      for (let i = 0; i < count; i++) {
        const gw = nodes[node] as StartedGateway
        const client = await TestClient.open(gw.wsUrl, {
          headers: { authorization: `Bearer ${await jwtFor(user)}` },
        })
        const sid = await client.sid()
        const connected = await um.waitFor((m) => m.body.type === 'CLIENT_CONNECTED' && m.body.sid === sid)
        replyTo[node] = connected.replyTo ?? ''
        const h = { client, sid, user, node }
        held.push(h)
        out.push(h)
      }
    }
    return out
  }
  /** Sends to the broadcast address; waits for one RESULT per node. */
  const toEveryNode = async (body: Record<string, unknown>) =>
    byNode(await um.waitResults(await um.send(broadcast, { v: 1, ...body }, { reply: true }), 2))

  before(async () => {
    fixture = await startBrokerFixture({
      umQueue,
      broadcast,
      nodeIds,
      env: { AUTH_JWT_SECRET: TEST_JWT_SECRET },
    })
    um = fixture.um
    nodes.push(...fixture.nodes)
  })
  after(async () => {
    for (const h of held) await h.client.close().catch(() => {})
    await fixture?.close()
  })

  it('USER_INFO on the broadcast address: one RESULT per node, each listing its own sessions of the user', async () => {
    const user = unique('alice')
    const mine = await sessionsOf(user, [2, 1])
    await sessionsOf(unique('other'), [1, 1])
    const room = unique('room')
    const first = mine[0] as Held
    assert.equal(
      (await um.request(replyTo[0] as string, { type: 'JOIN', v: 1, sid: first.sid, room })).ok,
      true,
    )
    const answers = await toEveryNode({ type: 'USER_INFO', user })
    assert.deepEqual([...answers.keys()].sort(), [...nodeIds].sort())
    for (const [node, id] of nodeIds.entries()) {
      const data = answers.get(id) as {
        sessions: Array<{ sid: string; rooms: string[]; connectedAt: number }>
      }
      assert.deepEqual(
        data.sessions.map((s) => s.sid),
        mine.filter((h) => h.node === node).map((h) => h.sid),
      )
      for (const s of data.sessions) {
        assert.ok(Number.isInteger(s.connectedAt) && s.connectedAt > 0)
        assert.deepEqual(s.rooms, s.sid === first.sid ? [room] : [])
      }
    }
  })

  it("USER_INFO on a node's address is answered by that node alone", async () => {
    const user = unique('solo')
    const mine = await sessionsOf(user, [1, 1])
    const id = await um.send(replyTo[1] as string, { type: 'USER_INFO', v: 1, user }, { reply: true })
    const [result] = await um.waitResults(id, 1)
    assert.ok(result?.ok)
    assert.equal(result.data.node, nodeIds[1])
    assert.equal(result.data.count, 1)
    assert.deepEqual(
      (result.data.sessions as Array<{ sid: string }>).map((s) => s.sid),
      [mine[1]?.sid],
    )
    // A PING to each node afterwards: had the other node answered too, its RESULT would be in by then.
    for (const address of replyTo) await um.request(address, { type: 'PING', v: 1 })
    assert.equal(um.results.get(id)?.length, 1)
  })

  it('EMIT_USER on the broadcast address reaches every session of the user on both nodes and no one else', async () => {
    const user = unique('carol')
    const mine = await sessionsOf(user, [2, 1])
    const [bystander] = await sessionsOf(unique('dave'), [1, 0])
    const answers = await toEveryNode({ type: 'EMIT_USER', user, event: 'user.notice', data: { n: 7 } })
    // {delivered: n} names no node (as ROOM_EMIT's): node A holds 2 of the sessions, node B 1.
    assert.deepEqual([...answers.values()].map((d) => d.delivered).sort(), [1, 2])
    for (const h of mine) assert.deepEqual((await h.client.event('user.notice')).data, { n: 7 })
    assert.equal(
      bystander?.client.frames.some((f) => f.event === 'user.notice'),
      false,
    )
  })

  it("EMIT_USER on one node's address reaches that node's sessions of the user only", async () => {
    const user = unique('erin')
    const mine = await sessionsOf(user, [1, 2])
    const result = await um.request(replyTo[1] as string, { type: 'EMIT_USER', v: 1, user, event: 'only.b' })
    assert.deepEqual(result, { type: 'RESULT', v: 1, ok: true, data: { delivered: 2 } })
    for (const h of mine.filter((x) => x.node === 1)) await h.client.event('only.b')
    await um.request(replyTo[0] as string, { type: 'PING', v: 1 })
    assert.equal(
      mine[0]?.client.frames.some((f) => f.event === 'only.b'),
      false,
    )
  })

  it('a user with no session: delivered 0, closed 0 and no sessions from every node', async () => {
    const user = unique('nobody')
    for (const answers of [
      await toEveryNode({ type: 'EMIT_USER', user, event: 'x' }),
      await toEveryNode({ type: 'DISCONNECT_USER', user }),
      await toEveryNode({ type: 'USER_INFO', user }),
    ]) {
      assert.equal(answers.size, 2)
      for (const data of answers.values()) {
        const { node: _node, ...rest } = data
        assert.ok(
          ['{"delivered":0}', '{"closed":0}', '{"count":0,"sessions":[]}'].includes(JSON.stringify(rest)),
          JSON.stringify(data),
        )
      }
    }
  })

  it('ROOM_INFO on the broadcast address: each node its exact count, at most limit members, with their users', async () => {
    const room = unique('hall')
    const a = await sessionsOf(unique('frank'), [2, 1])
    const b = await sessionsOf(unique('grace'), [0, 2])
    for (const h of [...a, ...b]) {
      const joined = await um.request(replyTo[h.node] as string, { type: 'JOIN', v: 1, sid: h.sid, room })
      assert.equal(joined.ok, true)
    }
    const all = await toEveryNode({ type: 'ROOM_INFO', room })
    for (const [node, id] of nodeIds.entries()) {
      const here = [...a, ...b].filter((h) => h.node === node)
      assert.deepEqual(all.get(id), {
        node: id,
        count: here.length,
        members: here.map((h) => ({ sid: h.sid, user: h.user })),
      })
    }
    const limited = await toEveryNode({ type: 'ROOM_INFO', room, limit: 1 })
    for (const [node, id] of nodeIds.entries()) {
      const data = limited.get(id) as { count: number; members: unknown[] }
      assert.equal(data.count, [...a, ...b].filter((h) => h.node === node).length, 'count stays exact')
      assert.equal(data.members.length, 1)
    }
    const counted = await toEveryNode({ type: 'ROOM_INFO', room, limit: 0 })
    assert.deepEqual([...counted.values()].map((d) => [d.count, (d.members as unknown[]).length]).sort(), [
      [2, 0],
      [3, 0],
    ])
    const empty = await toEveryNode({ type: 'ROOM_INFO', room: unique('nobody-here') })
    for (const data of empty.values()) assert.deepEqual([data.count, data.members], [0, []])
  })

  it('DISCONNECT_USER on the broadcast address closes every session of the user on both nodes with its code', async () => {
    const user = unique('heidi')
    const mine = await sessionsOf(user, [1, 2])
    const [bystander] = await sessionsOf(unique('ivan'), [0, 1])
    const answers = await toEveryNode({ type: 'DISCONNECT_USER', user, code: 4003, reason: 'banned' })
    assert.deepEqual([...answers.values()].map((d) => d.closed).sort(), [1, 2])
    for (const h of mine) {
      await until(() => h.client.closeInfo !== undefined, { timeoutMs: 5000, what: 'the session to close' })
      assert.deepEqual(h.client.closeInfo, { code: 4003, reason: 'banned' })
    }
    await until(() => nodes.every((n) => n.gateway.app.wsSessions.userSessions(user).length === 0), {
      timeoutMs: 5000,
      what: 'the index to empty',
    })
    const after = await toEveryNode({ type: 'USER_INFO', user })
    for (const data of after.values()) assert.deepEqual(data.sessions, [])
    assert.equal(bystander?.client.closeInfo, undefined)
  })

  it('a malformed message is answered INVALID and settled rejected, on a node address and on the broadcast address', async () => {
    const bad = [
      { type: 'EMIT_USER', v: 1, user: 'u', event: 'not a name' },
      { type: 'DISCONNECT_USER', v: 1, user: 'u', code: 1001 },
      { type: 'USER_INFO', v: 1 },
      { type: 'USER_INFO', v: 1, user: 'x'.repeat(257) },
      { type: 'ROOM_INFO', v: 1, room: 'r', limit: -1 },
      { type: 'ROOM_INFO', v: 1, room: 'r', limit: 10_001 },
    ]
    const rejected = () => nodes.map((n) => n.gateway.backend.stats().settlements.rejected ?? 0)
    const before = rejected()
    for (const body of bad) {
      const result = await um.request(replyTo[0] as string, body)
      assert.equal(result.ok, false)
      assert.ok(
        !result.ok && result.error.code === 'INVALID' && result.error.message.startsWith(`${body.type}: `),
      )
    }
    await until(() => (rejected()[0] ?? 0) - (before[0] ?? 0) === bad.length, {
      timeoutMs: 5000,
      what: 'node A to reject them',
    })
    const id = await um.send(broadcast, { type: 'ROOM_INFO', v: 1 }, { reply: true })
    const results = await um.waitResults(id, 2)
    assert.deepEqual(
      results.map((r) => (r.ok ? 'ok' : r.error.code)),
      ['INVALID', 'INVALID'],
    )
    await until(() => (rejected()[1] ?? 0) - (before[1] ?? 0) === 1, {
      timeoutMs: 5000,
      what: 'node B to reject it',
    })
  })
})
