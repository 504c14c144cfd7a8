import type { TSchema } from 'typebox'
import { Result } from './amqp-messages.js'
import { TRACEPARENT_PATTERN } from './common.js'
import {
  CI_MESSAGE_TYPES,
  type CiMessageType,
  JSON_CONTENT_TYPE,
  LAST_SEQ_QUERY_PARAM,
  PROTOCOL_VERSION,
  RESUME_QUERY_PARAM,
  TAKEOVER_MESSAGE_TYPES,
  type TakeoverMessageType,
  UM_MESSAGE_TYPES,
  type UmMessageType,
} from './constants.js'
import { CI_SCHEMAS, TAKEOVER_SCHEMAS, UM_SCHEMAS } from './message-tables.js'
import { ClientFrame, ErrorFrame, EventFrame, ReplyFrame, SessionFrame } from './ws-frames.js'

/** Plain JSON Schema (typebox schemas may carry non-JSON metadata). */
function plain(schema: TSchema): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>
}

const wsMessages = {
  ClientFrame: {
    schema: ClientFrame,
    summary:
      'A client event: {event, data?, id?, trace?} (trace: W3C traceparent/tracestate for the CLIENT_EVENT)',
  },
  SessionFrame: {
    schema: SessionFrame,
    summary:
      'With resume on, the first frame of every connection: {sid, resumeToken, resumed, replayed?, reason?}',
  },
  EventFrame: {
    schema: EventFrame,
    summary:
      "An event pushed to the client; with resume on it carries seq (1, 2, … across the session's connections)",
  },
  ReplyFrame: { schema: ReplyFrame, summary: 'The one reply to a client frame that carried an id' },
  ErrorFrame: { schema: ErrorFrame, summary: 'Error for a frame without a usable id' },
} as const

/** What each AMQP message is for (the schemas come from message-tables.ts). */
const AMQP_SUMMARIES = {
  CLIENT_CONNECTED: 'A session opened on a node',
  CLIENT_DISCONNECTED:
    'A session ended (sent exactly once per session; for a detached one when its window ends), with why',
  CLIENT_EVENT:
    "A client event forwarded to the User Manager (application_properties traceparent/tracestate: the frame's trace)",
  CLIENT_DETACHED: "A session's connection dropped; the session waits for its client for the resume window",
  CLIENT_RESUMED:
    'A detached (or moved) session is back on a connection; reply_to = the node that holds it now',
  NODE_HEARTBEAT: 'A node is alive (AMQP ttl = 3 x intervalMs, not durable); sessions = live and detached',
  NODE_STOPPED: 'The last message of a graceful shutdown of a node',
  EMIT: 'Event to one session',
  ROOM_EMIT: "Event to every local member of a room (on the broadcast address: every node's)",
  BROADCAST: 'Event to every session',
  JOIN: 'Add a session to a room',
  LEAVE: 'Remove a session from a room',
  DISCONNECT: 'Close a session (code 1000 or 4000-4999)',
  SESSION_INFO: 'Ask for a session: RESULT.data = {sid,node,connectedAt,rooms,meta}',
  PING: 'Ask a node: RESULT.data = {node,sessions,uptimeMs}',
  EMIT_USER:
    "Event to every session of a user (on the broadcast address: every node's). RESULT.data = {delivered}",
  DISCONNECT_USER: 'Close every session of a user (code 1000 or 4000-4999). RESULT.data = {closed}',
  USER_INFO: "Ask for a user's sessions: RESULT.data = {node, sessions: [{sid, connectedAt, rooms}]}",
  ROOM_INFO:
    'Ask who is in a room: RESULT.data = {node, count (exact), members: [{sid, user?}] (at most limit, default 1000)}',
  RESULT: 'Answer to a CI message that had reply_to; correlation_id = its message_id',
  TAKEOVER_REQUEST:
    "Node to node: a client resumed one of the receiver's sessions on the sender; hand it over (reply_to = the sender's takeover address)",
  TAKEOVER_GRANTED:
    'Node to node: the session, which left the holder (a late one is kept detached by the requester)',
  TAKEOVER_REFUSED:
    'Node to node: no hand-over (expired, invalid, gap, unavailable); the session stays where it was',
} as const satisfies Record<UmMessageType | CiMessageType | TakeoverMessageType | 'RESULT', string>

const AMQP_SCHEMAS: Record<keyof typeof AMQP_SUMMARIES, TSchema> = {
  ...UM_SCHEMAS,
  ...CI_SCHEMAS,
  ...TAKEOVER_SCHEMAS,
  RESULT: Result,
}

const amqpMessages = Object.fromEntries(
  Object.entries(AMQP_SUMMARIES).map(([type, summary]) => [
    type,
    { schema: AMQP_SCHEMAS[type as keyof typeof AMQP_SUMMARIES], summary },
  ]),
)

type MessageTable = Record<string, { schema: TSchema; summary: string }>

/**
 * The AMQP application_properties the gateway reads or sets (AsyncAPI message headers). Every
 * message may carry them; the gateway sets them on CLIENT_EVENT when the client frame had a
 * `trace`, copies `traceparent`/`tracestate` of a CI message onto its RESULT, and hands every
 * received message's application_properties to its hooks.
 */
const TRACE_HEADERS = {
  type: 'object',
  description: 'AMQP application_properties (W3C Trace Context)',
  properties: {
    traceparent: { type: 'string', pattern: TRACEPARENT_PATTERN },
    tracestate: { type: 'string', maxLength: 512 },
  },
}

function componentMessages(table: MessageTable, amqp: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, { summary }] of Object.entries(table)) {
    out[name] = {
      name,
      title: name,
      summary,
      contentType: JSON_CONTENT_TYPE,
      payload: { $ref: `#/components/schemas/${name}` },
      ...(amqp ? { headers: TRACE_HEADERS, bindings: { amqp1: {} } } : {}),
    }
  }
  return out
}

function componentSchemas(table: MessageTable): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [name, { schema }] of Object.entries(table)) out[name] = plain(schema)
  return out
}

function refs(names: readonly string[]): Record<string, { $ref: string }> {
  return Object.fromEntries(names.map((n) => [n, { $ref: `#/components/messages/${n}` }]))
}

function opMessages(channel: string, names: readonly string[]): Array<{ $ref: string }> {
  return names.map((n) => ({ $ref: `#/channels/${channel}/messages/${n}` }))
}

const UM_TYPES = UM_MESSAGE_TYPES
const NODE_TYPES = CI_MESSAGE_TYPES

export interface AsyncApiOptions {
  /** Version string of the gateway build. */
  version?: string
  /** WebSocket path (default `/ws`). */
  wsPath?: string
  /** Addresses shown for the AMQP channels (defaults: the RabbitMQ profile's). */
  umAddress?: string
  nodeAddress?: string
  broadcastAddress?: string
}

/**
 * The AsyncAPI 3.0 document of the gateway, built from the same schemas the
 * validators are compiled from. Written from the gateway's point of view.
 */
export function buildAsyncApiDocument(options: AsyncApiOptions = {}): Record<string, unknown> {
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Session gateway',
      version: options.version ?? `${PROTOCOL_VERSION}.0.0`,
      description:
        'WebSocket sessions for browsers and apps, bridged to backend services over AMQP 1.0. ' +
        `Wire contract version ${PROTOCOL_VERSION}.`,
    },
    defaultContentType: JSON_CONTENT_TYPE,
    servers: {
      gateway: { host: 'localhost:8080', protocol: 'ws', description: 'A gateway node (WebSocket listener)' },
      broker: {
        host: 'localhost:5672',
        protocol: 'amqp1',
        description: 'The AMQP 1.0 broker shared by all nodes',
      },
    },
    channels: {
      session: {
        address: options.wsPath ?? '/ws',
        title: 'Client session',
        description:
          'A session (SID) on a WebSocket connection. Text frames, one JSON object each. With resume on, a ' +
          'session outlives its connection for the resume window: reconnect with ' +
          `?${RESUME_QUERY_PARAM}=<resumeToken>&${LAST_SEQ_QUERY_PARAM}=<highest seq received> on any node.`,
        servers: [{ $ref: '#/servers/gateway' }],
        bindings: {
          ws: {
            method: 'GET',
            query: {
              type: 'object',
              properties: {
                [RESUME_QUERY_PARAM]: {
                  type: 'string',
                  description: 'resumeToken of the session frame last received (one use; never logged)',
                },
                [LAST_SEQ_QUERY_PARAM]: {
                  type: 'string',
                  pattern: '^[0-9]{1,16}$',
                  description: 'the highest seq received on the session, 0 for none',
                },
              },
            },
          },
        },
        messages: refs(Object.keys(wsMessages)),
      },
      userManager: {
        address: options.umAddress ?? '/queue/user-manager',
        title: 'User Manager',
        description:
          'Durable queue; messages are durable and carry reply_to = the address of the node holding the session.',
        servers: [{ $ref: '#/servers/broker' }],
        messages: refs(UM_TYPES),
      },
      node: {
        address: options.nodeAddress ?? '/amq/queue/gateway.node.{nodeId}',
        title: "A node's inbound address",
        description: 'The reply_to of every message a node sends; CI messages for its sessions go here.',
        parameters: { nodeId: { description: 'GATEWAY_NODE_ID of the node' } },
        servers: [{ $ref: '#/servers/broker' }],
        messages: refs(NODE_TYPES),
      },
      broadcast: {
        address: options.broadcastAddress ?? '/topic/gateway.broadcast',
        title: 'Broadcast',
        description: 'Every node receives what is sent here.',
        servers: [{ $ref: '#/servers/broker' }],
        messages: refs(NODE_TYPES),
      },
      takeover: {
        address: '/amq/queue/gateway.takeover.{nodeId}',
        title: "A node's takeover address (node to node)",
        description:
          'Where other nodes of the deployment ask this node for a session a client resumed on them, and where ' +
          'the answers to its own requests come back. Derived from the node id in the resume token ' +
          '(GATEWAY_QUEUE_PREFIX + "takeover." + node id; received as /queue/..., non-durable).',
        parameters: { nodeId: { description: 'GATEWAY_NODE_ID of the node' } },
        servers: [{ $ref: '#/servers/broker' }],
        messages: refs(TAKEOVER_MESSAGE_TYPES),
      },
      result: {
        address: null,
        title: 'RESULT replies',
        description: "Sent to the CI message's reply_to, correlation_id = its message_id.",
        servers: [{ $ref: '#/servers/broker' }],
        messages: refs(['RESULT']),
      },
    },
    operations: {
      receiveClientFrame: {
        action: 'receive',
        channel: { $ref: '#/channels/session' },
        messages: opMessages('session', ['ClientFrame']),
      },
      sendServerFrame: {
        action: 'send',
        channel: { $ref: '#/channels/session' },
        messages: opMessages('session', ['SessionFrame', 'EventFrame', 'ReplyFrame', 'ErrorFrame']),
      },
      sendToUserManager: {
        action: 'send',
        channel: { $ref: '#/channels/userManager' },
        messages: opMessages('userManager', UM_TYPES),
      },
      receiveOnNode: {
        action: 'receive',
        channel: { $ref: '#/channels/node' },
        messages: opMessages('node', NODE_TYPES),
      },
      receiveBroadcast: {
        action: 'receive',
        channel: { $ref: '#/channels/broadcast' },
        messages: opMessages('broadcast', NODE_TYPES),
      },
      receiveTakeover: {
        action: 'receive',
        channel: { $ref: '#/channels/takeover' },
        messages: opMessages('takeover', TAKEOVER_MESSAGE_TYPES),
      },
      sendTakeover: {
        action: 'send',
        channel: { $ref: '#/channels/takeover' },
        messages: opMessages('takeover', TAKEOVER_MESSAGE_TYPES),
      },
      sendResult: {
        action: 'send',
        channel: { $ref: '#/channels/result' },
        messages: opMessages('result', ['RESULT']),
      },
    },
    components: {
      schemas: { ...componentSchemas(wsMessages), ...componentSchemas(amqpMessages) },
      messages: { ...componentMessages(wsMessages, false), ...componentMessages(amqpMessages, true) },
    },
  }
}
