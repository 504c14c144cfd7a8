import { until } from '@session-gateway/test-kit'
import type { GatewayOverrides } from '../../src/app.js'
import { deleteQueues, unique } from './broker.js'
import { BROKER_URL, FakeUserManager } from './fake-user-manager.js'
import { type StartedGateway, startGateway } from './gateway.js'

export interface BrokerFixtureOptions {
  /** The nodes' ids (default: one fresh id); they share one broadcast address. */
  nodeIds?: string[]
  /** Default: a fresh name. */
  umQueue?: string
  /** Default: a fresh /topic/ address. */
  broadcast?: string
  /** Default: the machine's broker. */
  amqpUrl?: string
  /** More variables for every node. */
  env?: Record<string, string>
  overrides?: GatewayOverrides
}

/** A User Manager on its own queue and gateway nodes on the shared broker, their links open. */
export interface BrokerFixture {
  um: FakeUserManager
  umQueue: string
  /** The broadcast address every node receives. */
  broadcast: string
  /** The first node. */
  gw: StartedGateway
  nodes: StartedGateway[]
  nodeIds: string[]
  /** Closes the nodes, then the UM, and deletes every queue they used. */
  close(): Promise<void>
}

/** The setup most broker tests share: UM, nodes, links open; `close` leaves nothing behind. */
export async function startBrokerFixture(options: BrokerFixtureOptions = {}): Promise<BrokerFixture> {
  const umQueue = options.umQueue ?? unique('test-um')
  const broadcast = options.broadcast ?? `/topic/${unique('test-bc')}`
  const nodeIds = options.nodeIds ?? [unique('test-node')]
  const um = await FakeUserManager.start(`/queue/${umQueue}`)
  const nodes: StartedGateway[] = []
  const close = async () => {
    for (const node of nodes) await node.gateway.close()
    await um.close()
    await deleteQueues([umQueue, um.replyQueue, ...nodeIds.map((id) => `gateway.node.${id}`)])
  }
  try {
    for (const id of nodeIds) {
      const env = {
        AMQP_URL: options.amqpUrl ?? BROKER_URL,
        UM_ADDRESS: `/queue/${umQueue}`,
        BROADCAST_ADDRESS: broadcast,
        GATEWAY_NODE_ID: id,
        ...options.env,
      }
      nodes.push(await startGateway(env, options.overrides))
    }
    await until(() => nodes.every((n) => n.gateway.backend.state === 'open'), {
      timeoutMs: 10_000,
      what: 'bridge open',
    })
  } catch (err) {
    await close()
    throw err
  }
  return { um, umQueue, broadcast, gw: nodes[0] as StartedGateway, nodes, nodeIds, close }
}
