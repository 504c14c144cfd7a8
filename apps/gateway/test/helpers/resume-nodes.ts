import assert from 'node:assert/strict'
import type { UmMessage } from '@session-gateway/message-schema'
import { TestClient, until } from '@session-gateway/test-kit'
import { deleteQueues, unique } from './broker.js'
import { BROKER_URL, FakeUserManager } from './fake-user-manager.js'
import { type StartedGateway, startGateway } from './gateway.js'

export const RESUME_SECRET = 'gateway-takeover-test-secret-0123456789'

export interface SessionData {
  sid: string
  resumeToken: string
  resumed: boolean
  replayed?: number
  reason?: string
}

/** Opens a connection (resuming when given a token) and takes its `session` frame. */
export async function openSession(
  wsUrl: string,
  resume?: { token: string; lastSeq: number },
  headers?: Record<string, string>,
) {
  const url = resume
    ? `${wsUrl}?resume=${encodeURIComponent(resume.token)}&last_seq=${resume.lastSeq}`
    : wsUrl
  const client = await TestClient.open(url, headers ? { headers } : {})
  const frame = await client.waitFor(() => true, 10_000, 'the first frame')
  assert.equal(frame.event, 'session', 'the first frame of a connection is the session frame')
  return { client, session: frame.data as SessionData }
}

export interface ResumeNode {
  nodeId: string
  gw: StartedGateway
  /** Its address (reply_to of what it sends). */
  address: string
}

/** Gateways with resume on sharing one User Manager queue; `stop` closes them and removes their queues. */
export async function startResumeNodes(
  count: number,
  env: Record<string, string> = {},
  perNode: Array<Record<string, string>> = [],
) {
  const umQueue = unique('test-um')
  const um = await FakeUserManager.start(`/queue/${umQueue}`)
  const broadcast = `/topic/${unique('test-bc')}`
  const nodes: ResumeNode[] = []
  const queues = [umQueue, um.replyQueue]
  const stop = async () => {
    for (const node of nodes) await node.gw.gateway.close()
    await um.close()
    await deleteQueues(queues)
  }
  try {
    for (let i = 0; i < count; i++) {
      const nodeId = unique(`test-n${i + 1}`)
      const gw = await startGateway({
        AMQP_URL: BROKER_URL,
        UM_ADDRESS: `/queue/${umQueue}`,
        BROADCAST_ADDRESS: broadcast,
        GATEWAY_NODE_ID: nodeId,
        GATEWAY_NODE_HEARTBEAT_MS: '0',
        SESSION_RESUME_WINDOW_MS: '60000',
        GATEWAY_RESUME_SECRET: RESUME_SECRET,
        ...env,
        ...(perNode[i] ?? {}),
      })
      queues.push(`gateway.node.${nodeId}`, `gateway.takeover.${nodeId}`)
      nodes.push({ nodeId, gw, address: gw.gateway.backend.nodeReplyTo })
      await until(async () => (await fetch(`${gw.httpUrl}/readyz`)).status === 200, {
        timeoutMs: 10_000,
        what: `${nodeId} ready (broker and takeover address)`,
      })
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { um, nodes, stop, queues }
}

/** The UM message types about `sid`, in the order received. */
export const typesOf = (messages: Array<{ body: UmMessage }>, sid: string) =>
  messages.filter((m) => 'sid' in m.body && m.body.sid === sid).map((m) => m.body.type)
