import { deleteQueues, unique } from './broker.js'
import { type ChildGateway, spawnGateway } from './child-gateway.js'
import { BROKER_URL, FakeUserManager } from './fake-user-manager.js'
import { RESUME_SECRET } from './resume-nodes.js'

export interface DeployNode {
  nodeId: string
  child: ChildGateway
  address: string
}

/**
 * Child-process gateways (dist/main.js) with resume on, sharing one User Manager queue, for tests that
 * SIGTERM a node. Every child is SIGKILLed by `stop` if it still runs (register it in t.after).
 */
export async function startDeployNodes(count: number, env: Record<string, string> = {}) {
  const umQueue = unique('test-um')
  const um = await FakeUserManager.start(`/queue/${umQueue}`)
  const broadcast = `/topic/${unique('test-bc')}`
  const nodes: DeployNode[] = []
  const queues = [umQueue, um.replyQueue]
  const stop = async () => {
    await Promise.all(nodes.map((n) => n.child.kill()))
    await um.close()
    await deleteQueues(queues)
  }
  try {
    for (let i = 0; i < count; i++) {
      const nodeId = unique(`test-d${i + 1}`)
      queues.push(`gateway.node.${nodeId}`, `gateway.takeover.${nodeId}`)
      const child = await spawnGateway(
        {
          AMQP_URL: BROKER_URL,
          UM_ADDRESS: `/queue/${umQueue}`,
          BROADCAST_ADDRESS: broadcast,
          GATEWAY_NODE_ID: nodeId,
          GATEWAY_NODE_HEARTBEAT_MS: '0',
          SESSION_RESUME_WINDOW_MS: '60000',
          GATEWAY_RESUME_SECRET: RESUME_SECRET,
          SESSION_HEARTBEAT_MS: '0',
          LOG_LEVEL: 'warn',
          ...env,
        },
        { readyTimeoutMs: 30_000 },
      )
      nodes.push({ nodeId, child, address: `/amq/queue/gateway.node.${nodeId}` })
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { um, nodes, stop }
}

/** Resolves with the exit once the child exited, or rejects after `timeoutMs` (the child is then killed by the test's stop). */
export function exitWithin(
  node: DeployNode,
  timeoutMs: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${node.nodeId} did not exit within ${timeoutMs} ms`)),
      timeoutMs,
    )
  })
  return Promise.race([node.child.exited, timeout]).finally(() => clearTimeout(timer))
}
