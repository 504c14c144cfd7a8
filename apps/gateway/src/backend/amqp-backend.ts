import type { FastifyInstance } from 'fastify'
import fastifyCiBridge from 'fastify-ci-bridge'
import type { GatewayConfig } from '../config/load-config.js'
import { checkNodeId, type NodeIdCheck } from './node-id-check.js'
import type { Backend, CiMessageHandler } from './types.js'

const LIFECYCLE_TYPES: ReadonlySet<string> = new Set([
  'CLIENT_DISCONNECTED',
  'CLIENT_DETACHED',
  'CLIENT_RESUMED',
])

/** Registers the AMQP bridge on `app` and returns it as the gateway's Backend. */
export async function registerAmqpBackend(
  app: FastifyInstance,
  config: GatewayConfig & { amqpUrl: string },
  onMessage: CiMessageHandler,
  instance: string,
): Promise<Backend> {
  const optional = {
    ...(config.umAddress ? { userManagerAddress: config.umAddress } : {}),
    ...(config.broadcastAddress ? { broadcastAddress: config.broadcastAddress } : {}),
    ...(config.nodeAddress ? { nodeAddress: config.nodeAddress } : {}),
    ...(config.nodeReplyTo ? { nodeReplyTo: config.nodeReplyTo } : {}),
  }
  await app.register(fastifyCiBridge, {
    url: config.amqpUrl,
    nodeId: config.nodeId,
    profile: config.amqpProfile,
    outboxLimit: config.outboxLimit,
    sendTimeoutMs: config.sendTimeoutMs,
    credit: config.credit,
    ...optional,
    onMessage,
  })
  const bridge = app.ciBridge
  let nodeIdCheck: NodeIdCheck = 'pending'
  const runCheck = (state: string) => {
    if (state !== 'open' || nodeIdCheck !== 'pending') return
    bridge.off('state', runCheck)
    checkNodeId(bridge, instance, config.sendTimeoutMs)
      .then((outcome) => {
        nodeIdCheck = outcome
        if (outcome === 'conflict') {
          app.log.error(
            { nodeId: config.nodeId },
            'another running gateway uses this GATEWAY_NODE_ID: CI messages for the sessions of either are lost about half the time; give every node its own id',
          )
        }
      })
      .catch(() => {
        nodeIdCheck = 'skipped'
      })
  }
  bridge.on('state', runCheck)
  runCheck(bridge.state)
  return {
    kind: 'amqp',
    get nodeIdCheck() {
      return nodeIdCheck
    },
    get state() {
      return bridge.state
    },
    get nodeReplyTo() {
      return bridge.nodeReplyTo
    },
    // One CLIENT_DISCONNECTED per session (and with resume, one CLIENT_DETACHED / CLIENT_RESUMED per
    // drop and return), which nobody can retry: a mass disconnect (a load balancer restart, a network
    // blip) must not lose them to the outbox bound that pushes back on client events. They are
    // bounded by the sessions this node holds, and still time out.
    sendToUserManager: (body) =>
      bridge.sendToUserManager(body, { bypassOutboxLimit: LIFECYCLE_TYPES.has(body.type) }),
    reply: (meta, body) => bridge.reply(meta, body),
    stats: () => {
      const s = bridge.stats
      return {
        outboxDepth: s.outboxDepth,
        inFlight: s.inFlight,
        reconnects: s.reconnects,
        sent: s.sent,
        accepted: s.accepted,
        rejected: s.rejected,
        receivedByType: s.receivedByType,
        settlements: s.settlements,
      }
    },
  }
}
