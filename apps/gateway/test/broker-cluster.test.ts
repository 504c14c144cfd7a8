import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { decodeUmMessage } from '@session-gateway/message-schema'
import { until } from '@session-gateway/test-kit'
import { createCiBridge, type StandaloneCiBridge } from 'fastify-ci-bridge'
import { AckClient } from './helpers/ack-client.js'
import { unique } from './helpers/broker.js'
import { type ChildGateway, spawnGateway } from './helpers/child-gateway.js'
import { PrivateCluster } from './helpers/private-cluster.js'

/** What this file promises after any one broker node is killed (stated in docs/OPERATIONS.md). */
const EMIT_BOUND_MS = 30_000
const READY_BOUND_MS = 30_000
const CLIENTS_PER_NODE = 25
const TICK_MS = 500

/** When each tick of the `tick` (EMIT) and `room-tick` (ROOM_EMIT) events reached one client. */
class Ticks {
  readonly #arrived = new Map<string, Map<number, number>>([
    ['tick', new Map()],
    ['room-tick', new Map()],
  ])

  constructor(client: AckClient) {
    client.ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { event?: string; data?: { tick?: unknown } }
      const tick = frame.data?.tick
      if (typeof tick === 'number') this.#arrived.get(frame.event ?? '')?.set(tick, performance.now())
    })
  }

  /** The highest tick of `event` received (0: none). */
  last(event: 'tick' | 'room-tick'): number {
    return Math.max(0, ...(this.#arrived.get(event)?.keys() ?? []))
  }

  /** When the first tick of `event` after `tick` arrived. */
  firstAfter(event: 'tick' | 'room-tick', tick: number): number {
    let first = Number.POSITIVE_INFINITY
    for (const [t, at] of this.#arrived.get(event) ?? []) if (t > tick && at < first) first = at
    return first
  }
}

describe('broker HA: kill -9 of each node of a 3-node RabbitMQ cluster under load (private cluster)', () => {
  const cluster = new PrivateCluster()
  const prefix = unique('ha')
  const umQueue = `${prefix}.um`
  const broadcast = `/topic/${prefix}.bc`
  const room = 'everyone'
  const gateways: ChildGateway[] = []
  const clients: AckClient[] = []
  const ticks = new Map<AckClient, Ticks>()
  const lastTick = (c: AckClient, event: 'tick' | 'room-tick') => ticks.get(c)?.last(event) ?? 0
  /** The test's User Manager and CI: a standalone bridge on every node of the cluster. */
  let um: StandaloneCiBridge
  const replyTo = new Map<string, string>()
  const atUm = new Set<string>()
  let tick = 0
  let ticker: NodeJS.Timeout | undefined

  before(async () => {
    await cluster.start()
    um = createCiBridge({ url: cluster.urls(2), nodeId: `${prefix}-um`, reconnect: { maxDelayMs: 1000 } })
    await um.waitForOpen(30_000)
    await um.subscribe(`/queue/${umQueue}`, {
      decode: (body) => decodeUmMessage(body),
      handler: async (message, meta) => {
        if (message.type === 'CLIENT_CONNECTED' && meta.replyTo) {
          replyTo.set(message.sid, meta.replyTo)
          await um.send(meta.replyTo, { type: 'JOIN', v: 1, sid: message.sid, room })
        } else if (message.type === 'CLIENT_EVENT' && message.requestId !== undefined) {
          atUm.add(`${message.sid} ${String(message.requestId)}`)
        }
      },
    })
  })
  after(async () => {
    clearInterval(ticker)
    for (const client of clients) client.close()
    for (const gateway of gateways) await gateway.kill()
    await um?.close()
    await cluster.destroy()
  })

  it('loses no acked event, EMITs and ROOM_EMITs reach every session again, readiness returns, nothing restarts', async () => {
    for (const [index, name] of ['a', 'b'].entries()) {
      gateways.push(
        await spawnGateway(
          {
            // Each gateway its own order of the nodes: a starts on the first, b on the second.
            AMQP_URL: cluster.urls(index).join(','),
            UM_ADDRESS: `/queue/${umQueue}`,
            UM_QUEUE_TYPE: 'quorum',
            BROADCAST_ADDRESS: broadcast,
            GATEWAY_NODE_ID: `${prefix}-${name}`,
            LOG_LEVEL: 'warn',
          },
          { readyTimeoutMs: 60_000 },
        ),
      )
    }
    const pids = gateways.map((g) => g.pid)
    for (const gateway of gateways) {
      for (let i = 0; i < CLIENTS_PER_NODE; i++) {
        const client = await AckClient.open(gateway.wsUrl)
        ticks.set(client, new Ticks(client))
        clients.push(client)
      }
    }
    await until(() => clients.every((c) => replyTo.has(c.sid)), {
      timeoutMs: 30_000,
      what: 'every CLIENT_CONNECTED at the UM',
    })
    // The queues are quorum queues, three members each (the vhost's default type).
    const types = await cluster.ctl('list_queues', '-p', cluster.vhost, 'name', 'type', '--no-table-headers')
    for (const queue of [umQueue, `gateway.node.${prefix}-a`, `gateway.node.${prefix}-b`]) {
      assert.match(types, new RegExp(`^${queue.replace(/\./g, '\\.')}\\s+quorum$`, 'm'), `${queue} is quorum`)
    }

    // The CI: every 500 ms an EMIT to every session (at its node's reply_to) and one ROOM_EMIT.
    ticker = setInterval(() => {
      tick += 1
      const data = { tick }
      for (const [sid, address] of replyTo) {
        um.send(address, { type: 'EMIT', v: 1, sid, event: 'tick', data }).catch(() => {})
      }
      um.send(broadcast, { type: 'ROOM_EMIT', v: 1, room, event: 'room-tick', data }).catch(() => {})
    }, TICK_MS)
    for (const client of clients) client.startSteady('ha.event', 2)
    await until(() => clients.every((c) => lastTick(c, 'tick') > 0 && lastTick(c, 'room-tick') > 0), {
      timeoutMs: 20_000,
      what: 'the first EMIT and ROOM_EMIT at every session',
    })

    const killed = new Set<number>()
    const roles = new Set<string>()
    for (let round = 0; round < cluster.ports.length; round++) {
      // Whom to kill: first the node gateway a is connected to, then the User Manager queue's
      // leader, then whichever is left; each node once.
      const brokerOf = await Promise.all(gateways.map(async (g) => cluster.portOf(await brokerUrl(g))))
      const umLeader = await cluster.leader(umQueue)
      const nodeQueueLeaders = await Promise.all(
        ['a', 'b'].map((name) => cluster.leader(`gateway.node.${prefix}-${name}`)),
      )
      const left = cluster.ports.filter((p) => !killed.has(p))
      const victim =
        round === 0
          ? (brokerOf[0] as number)
          : left.includes(umLeader)
            ? umLeader
            : (left.find((p) => nodeQueueLeaders.includes(p)) ?? (left[0] as number))
      const role = [
        ...gateways.flatMap((_, i) => (brokerOf[i] === victim ? [`gateway ${'ab'[i]}'s broker`] : [])),
        ...(umLeader === victim ? ['UM queue leader'] : []),
        ...nodeQueueLeaders.flatMap((p, i) => (p === victim ? [`node queue ${'ab'[i]} leader`] : [])),
      ]
      for (const r of role) roles.add(r.replace(/ [ab]('s)? /, ' '))
      await until(async () => !(await cluster.quorumCritical(victim)), {
        timeoutMs: 60_000,
        what: 'every quorum queue to have a majority without the victim',
      })

      const tickAtKill = tick
      const killedAt = await cluster.kill(victim)
      killed.add(victim)
      let sawNotReady = false
      await until(
        async () => {
          const statuses = await Promise.all(gateways.map((g) => g.readyz()))
          if (statuses.some((s) => s !== 200)) sawNotReady = true
          return statuses.every((s) => s === 200)
        },
        { timeoutMs: READY_BOUND_MS, what: `readiness 200 on both gateways after kill of ${victim}` },
      )
      // Two broker nodes were left: a failover (links re-attached included), never an outage.
      assert.equal(sawNotReady, false, `readiness 503 after kill of ${victim} while two broker nodes were up`)
      await until(
        () => clients.every((c) => lastTick(c, 'tick') > tickAtKill && lastTick(c, 'room-tick') > tickAtKill),
        {
          timeoutMs: EMIT_BOUND_MS,
          what: `an EMIT and a ROOM_EMIT sent after the kill of ${victim} at every session`,
        },
      )
      const allBack = performance.now() - killedAt
      // Failover times, seen from the sessions of the gateway(s) the kill cut off (all, if none).
      const affected = gateways.map((_, i) => brokerOf[i] === victim)
      const watched = clients.filter(
        (_, i) => affected[Math.floor(i / CLIENTS_PER_NODE)] || !affected.includes(true),
      )
      const firstEmit =
        Math.min(...watched.map((c) => ticks.get(c)?.firstAfter('tick', tickAtKill) ?? Infinity)) - killedAt
      const firstOk = Math.min(
        ...watched.flatMap((c) =>
          c
            .eventRecords()
            .filter((r) => r.sentAt > killedAt && r.outcome === 'ok')
            .map((r) => (r.repliedAt as number) - killedAt),
        ),
      )
      console.log(
        `# cluster: kill -9 of ${victim} (${role.join(', ') || 'no role'}): after the kill, first acked event ${Math.round(firstOk)} ms, first EMIT delivered ${Math.round(firstEmit)} ms, EMIT and ROOM_EMIT at every session ${Math.round(allBack)} ms (ticks every ${TICK_MS} ms); readiness 503 seen: ${sawNotReady}`,
      )
      await cluster.startNode(victim)
    }
    assert.ok(roles.has('gateway broker'), 'a node a gateway was connected to was killed')
    assert.ok(roles.has('UM queue leader'), 'the UM queue leader was killed')
    assert.ok(roles.has('node queue leader'), 'a node hosting a node queue leader was killed')

    // After the last restart: still one process each, no client dropped, and every acked event at the UM.
    for (const client of clients) client.stop()
    await until(() => clients.every((c) => c.eventRecords().every((r) => r.outcome !== undefined)), {
      timeoutMs: 30_000,
      what: 'a reply to every event sent',
    })
    const acked = clients.flatMap((c) =>
      c
        .eventRecords()
        .filter((r) => r.outcome === 'ok')
        .map((r) => `${c.sid} ${r.id}`),
    )
    await until(() => acked.every((k) => atUm.has(k)), {
      timeoutMs: 30_000,
      what: 'every acknowledged event at the UM',
    })
    const unavailable = clients.flatMap((c) => c.eventRecords().filter((r) => r.outcome !== 'ok')).length
    assert.deepEqual(
      gateways.map((g) => [g.pid, g.child.exitCode, g.child.signalCode]),
      pids.map((pid) => [pid, null, null]),
      'no gateway restarted',
    )
    assert.deepEqual(
      clients.filter((c) => c.closeInfo !== undefined).map((c) => c.closeInfo),
      [],
      'no session lost its connection',
    )
    assert.deepEqual(
      clients.filter((c) => c.eventRecords().some((r) => r.replies !== 1)).length,
      0,
      'exactly one reply per event',
    )
    console.log(
      `# cluster: ${acked.length} acked events all at the UM, ${unavailable} answered UNAVAILABLE; ${tick} ticks`,
    )
  })
})

async function brokerUrl(gateway: ChildGateway): Promise<string | undefined> {
  const response = await fetch(`${gateway.httpUrl}/readyz`)
  return ((await response.json()) as { brokerUrl?: string }).brokerUrl
}
