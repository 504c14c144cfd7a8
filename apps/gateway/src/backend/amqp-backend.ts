import type { FastifyInstance } from 'fastify'
import fastifyCiBridge from 'fastify-ci-bridge'
import type { GatewayConfig } from '../config/load-config.js'
import { checkNodeId, type NodeIdCheck } from './node-id-check.js'
import type { Backend, CiMessageHandler } from './types.js'
import { checkUmQueue, type UmQueueCheck } from './um-queue-check.js'
import { umQueueName } from './um-queue-name.js'

/** Registers the AMQP bridge on `app` and returns it as the gateway's Backend. */
export async function registerAmqpBackend(
  app: FastifyInstance,
  config: GatewayConfig & { amqpUrl: string[] },
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
  const umQueue = watchUmQueue(app, config, bridge)
  return {
    kind: 'amqp',
    get nodeIdCheck() {
      return nodeIdCheck
    },
    get state() {
      return bridge.state
    },
    get failingOver() {
      return bridge.failingOver
    },
    get brokerUrl() {
      return bridge.connectedUrl
    },
    get problem() {
      return umQueue.problem()
    },
    get nodeReplyTo() {
      return bridge.nodeReplyTo
    },
    // One CLIENT_DISCONNECTED per session, which nobody can retry: a mass disconnect (a load
    // balancer restart, a network blip) must not lose them to the outbox bound that pushes back on
    // client events. They are bounded by the sessions this node held, and still time out.
    sendToUserManager: (body) =>
      bridge.sendToUserManager(body, { bypassOutboxLimit: body.type === 'CLIENT_DISCONNECTED' }),
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

const UM_QUEUE_RETRY_MS = 2000

/**
 * With UM_QUEUE_TYPE: checks the User Manager queue's type once the broker is open (again every
 * 2 s while no node answered the check), and says why the node is not ready until it passed.
 */
function watchUmQueue(
  app: FastifyInstance,
  config: GatewayConfig & { amqpUrl: string[] },
  bridge: FastifyInstance['ciBridge'],
): { problem(): string | undefined } {
  const type = config.umQueueType
  const queue = umQueueName(config.umAddress ?? bridge.userManagerAddress)
  if (type === undefined || queue === undefined) return { problem: () => undefined }
  let check: UmQueueCheck = { state: 'pending' }
  let running = false
  let closed = false
  let retry: NodeJS.Timeout | undefined
  const run = () => {
    if (closed || running || check.state !== 'pending' || bridge.state !== 'open') return
    running = true
    checkUmQueue(config.amqpUrl, queue, type)
      .then((outcome) => {
        check = outcome
        if (outcome.state === 'wrong') app.log.error({ queue, type }, outcome.problem)
        else if (outcome.state === 'ok') app.log.info({ queue, type }, 'User Manager queue checked')
      })
      .finally(() => {
        running = false
        if (check.state === 'pending' && !closed) {
          retry = setTimeout(run, UM_QUEUE_RETRY_MS)
          retry.unref()
        }
      })
  }
  bridge.on('state', run)
  app.addHook('onClose', async () => {
    closed = true
    clearTimeout(retry)
  })
  run()
  return {
    problem() {
      if (check.state === 'ok') return undefined
      if (check.state === 'wrong') return check.problem
      return `the User Manager queue '${queue}' is not checked yet (UM_QUEUE_TYPE=${type})${check.lastError ? `: ${check.lastError}` : ''}`
    },
  }
}
