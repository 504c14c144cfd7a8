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

/**
 * The start of the name of every queue the bridge names itself on RabbitMQ (node queues, request
 * reply queues): the expiry policy matches it, and nothing else. `gateway.` keeps the names of
 * earlier versions (`gateway.node.<id>`).
 */
export const DEFAULT_QUEUE_PREFIX = 'gateway.'

/** What a queue prefix may be: 1-64 of [A-Za-z0-9_.-], not starting with `amq.` (RabbitMQ reserves it). */
export function queuePrefixProblem(prefix: unknown): string | undefined {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) {
    return 'must be 1-64 characters of [A-Za-z0-9_.-]'
  }
  if (prefix.startsWith('amq.')) return 'must not start with "amq." (RabbitMQ reserves it)'
  return undefined
}

/** Queue name of a node on RabbitMQ: `<prefix>node.<id>`. */
export function rabbitmqNodeQueue(nodeId: string, prefix: string = DEFAULT_QUEUE_PREFIX): string {
  return `${prefix}node.${nodeId}`
}

/** The queue a RabbitMQ 3.x address names: `/queue/NAME`, `/amq/queue/NAME` or a plain `NAME`. */
function rabbitmqQueueOf(address: string): string | undefined {
  const match = /^\/(?:amq\/)?queue\/(.+)$/.exec(address)
  if (match) return match[1]
  return address.startsWith('/') || address === '' ? undefined : address
}

/**
 * Where others reach a receiver attached at `address` on RabbitMQ 3.x: the same queue as
 * `/amq/queue/NAME` (never declared by the sender). Undefined for an address behind which the
 * broker creates a server-named queue (`/exchange/…`, `/topic/…`): nobody can send to that by name.
 */
export function rabbitmqReplyAddress(address: string): string | undefined {
  const queue = rabbitmqQueueOf(address)
  return queue === undefined ? undefined : `/amq/queue/${queue}`
}

/**
 * The address the bridge sends a reply to, for a peer's `reply_to`. On RabbitMQ a reply address
 * names a queue that exists (PROTOCOL.md): `/queue/NAME` (or a plain `NAME`) would declare it, and
 * a declare whose durability differs from the queue's is refused and ends the sender's session. So
 * on `rabbitmq` those forms become `/amq/queue/NAME`; every other address, and every address on
 * `generic`, is used as given.
 */
export function replyAddressFor(profile: BrokerProfile, replyTo: string): string {
  if (profile !== 'rabbitmq') return replyTo
  return rabbitmqReplyAddress(replyTo) ?? replyTo
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
  queuePrefix: string = DEFAULT_QUEUE_PREFIX,
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
  const nodeQueue = rabbitmqNodeQueue(nodeId, queuePrefix)
  const replyQueue = `${nodeQueue}.reply.${instanceId}`
  const nodeAddress = given.nodeAddress ?? `/queue/${nodeQueue}`
  const nodeReplyTo = given.nodeReplyTo ?? rabbitmqReplyAddress(nodeAddress)
  if (nodeReplyTo === undefined) {
    // The broker would name the queue behind it: a reply_to derived from it reaches nobody.
    throw new Error(
      `resolveAddresses: no reply address can be derived from the node address ${nodeAddress} (the broker names the queue behind it); give nodeReplyTo, or a node address of the form /queue/NAME`,
    )
  }
  return {
    userManagerAddress: given.userManagerAddress ?? '/queue/user-manager',
    nodeAddress,
    nodeReplyTo,
    broadcastAddress: given.broadcastAddress ?? '/topic/gateway.broadcast',
    requestReplyAddress: given.requestReplyAddress ?? `/queue/${replyQueue}`,
    requestReplyTo: given.requestReplyTo ?? `/amq/queue/${replyQueue}`,
  }
}

/**
 * Why the bridge refuses an address without trying it, or undefined. On RabbitMQ 3.x a link to
 * `/temp-queue/…` (or `/temp-topic/…`) gets no answer and then the broker drops the whole
 * connection (docs/RABBITMQ.md, "One session per link"): one bad `reply_to` from a peer would cut every link of the node.
 */
export function refusedAddress(profile: BrokerProfile, address: string): string | undefined {
  if (profile === 'rabbitmq' && /^\/temp-(queue|topic)\//.test(address)) {
    return `${address}: temporary queues end the whole connection on RabbitMQ; use /queue/ or /amq/queue/`
  }
  return undefined
}
