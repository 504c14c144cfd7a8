import type { BrokerProfile } from './types.js'

export interface BridgeAddresses {
  userManagerAddress: string
  nodeAddress: string
  nodeReplyTo: string
  broadcastAddress: string
  /** Undefined only with `generic` when none was given: then `request()` is refused. */
  requestReplyAddress: string | undefined
  requestReplyTo: string | undefined
}

export type AddressOverrides = Partial<BridgeAddresses>

/** Queue name of a node on RabbitMQ. The `gateway.node.` prefix is what the expiry policy matches. */
export function rabbitmqNodeQueue(nodeId: string): string {
  return `gateway.node.${nodeId}`
}

/**
 * The addresses a bridge uses. `rabbitmq` fills the gaps with RabbitMQ 3.x plugin addresses:
 * receivers attach to `/queue/NAME` (declares the queue) and others reach it at `/amq/queue/NAME`
 * (never declares). `generic` uses the addresses exactly as given: the caller gives them all
 * (`nodeReplyTo` defaults to `nodeAddress`, `requestReplyTo` to `requestReplyAddress`), except
 * `requestReplyAddress`, which only `request()` needs.
 *
 * `instanceId` makes the request reply queue unique per bridge, so that two processes with the
 * same node id never take each other's replies.
 */
export function resolveAddresses(
  profile: BrokerProfile,
  nodeId: string,
  instanceId: string,
  given: AddressOverrides,
): BridgeAddresses {
  if (profile === 'generic') {
    const { userManagerAddress, nodeAddress, broadcastAddress, requestReplyAddress } = given
    if (!userManagerAddress || !nodeAddress || !broadcastAddress) {
      throw new Error('resolveAddresses: generic profile needs every address')
    }
    return {
      userManagerAddress,
      nodeAddress,
      nodeReplyTo: given.nodeReplyTo ?? nodeAddress,
      broadcastAddress,
      requestReplyAddress,
      requestReplyTo: given.requestReplyTo ?? requestReplyAddress,
    }
  }
  const nodeQueue = rabbitmqNodeQueue(nodeId)
  const replyQueue = `${nodeQueue}.reply.${instanceId}`
  return {
    userManagerAddress: given.userManagerAddress ?? '/queue/user-manager',
    nodeAddress: given.nodeAddress ?? `/queue/${nodeQueue}`,
    nodeReplyTo: given.nodeReplyTo ?? `/amq/queue/${nodeQueue}`,
    broadcastAddress: given.broadcastAddress ?? '/topic/gateway.broadcast',
    requestReplyAddress: given.requestReplyAddress ?? `/queue/${replyQueue}`,
    requestReplyTo: given.requestReplyTo ?? `/amq/queue/${replyQueue}`,
  }
}

/**
 * Why the bridge refuses an address without trying it, or undefined. On RabbitMQ 3.x a link to
 * `/temp-queue/…` (or `/temp-topic/…`) gets no answer and then the broker drops the whole
 * connection (AMQP-NOTES.md): one bad `reply_to` from a peer would cut every link of the node.
 */
export function refusedAddress(profile: BrokerProfile, address: string): string | undefined {
  if (profile === 'rabbitmq' && /^\/temp-(queue|topic)\//.test(address)) {
    return `${address}: temporary queues end the whole connection on RabbitMQ; use /queue/ or /amq/queue/`
  }
  return undefined
}
