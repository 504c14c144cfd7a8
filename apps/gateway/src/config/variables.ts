import { type TSchema, Type } from 'typebox'

/** How a variable's text becomes a value before its schema checks it. */
export type Coerce = 'string' | 'integer' | 'list' | 'boolean' | 'trustProxy'

export interface VariableSpec {
  /** Environment variable name. */
  name: string
  /** Key in the parsed config. */
  key: string
  coerce: Coerce
  schema: TSchema
  /** Default value, or undefined for "unset". */
  default?: string
  /** What --help says the default is, when it is derived rather than fixed. */
  derivedDefault?: string
  /** Shown by --help. */
  description: string
  /** What a bad value must be, when the schema alone would not say it plainly. */
  expected?: string
  /** How a bad value is shown in the error: secrets are never echoed. */
  redact?: (text: string) => string
}

const hidden = () => '(hidden)'
/** The URLs with their passwords masked. */
const withoutPassword = (text: string) => text.replace(/(\w+:\/\/[^:@/,]*:)[^@/,]*@/g, '$1***@')

const port = Type.Integer({ minimum: 0, maximum: 65535 })
const positive = (max = Number.MAX_SAFE_INTEGER) => Type.Integer({ minimum: 1, maximum: max })
const nonNegative = (max = Number.MAX_SAFE_INTEGER) => Type.Integer({ minimum: 0, maximum: max })
const host = Type.String({ minLength: 1, maxLength: 255 })
/** The longest delay a Node.js timer can hold. */
const MAX_TIMER_MS = 2_147_483_647

/** Every variable the gateway reads, in the order --help prints them. */
export const VARIABLES: readonly VariableSpec[] = [
  {
    name: 'GATEWAY_HOST',
    key: 'host',
    coerce: 'string',
    schema: host,
    default: '0.0.0.0',
    description: 'Interface of the WebSocket listener (and of the HTTP API when it shares the listener)',
  },
  {
    name: 'GATEWAY_PORT',
    key: 'port',
    coerce: 'integer',
    schema: port,
    default: '8080',
    description: 'Port of the WebSocket listener',
  },
  {
    name: 'GATEWAY_WS_PATH',
    key: 'wsPath',
    coerce: 'string',
    schema: Type.String({ pattern: '^/[^?#]*$' }),
    default: '/ws',
    description: 'Path of the WebSocket endpoint',
  },
  {
    name: 'GATEWAY_SOCKETIO',
    key: 'socketIo',
    coerce: 'boolean',
    schema: Type.Boolean(),
    default: 'false',
    description:
      'Serve the Socket.IO endpoint (Engine.IO v4, Socket.IO v5, main namespace): Socket.IO clients connect unchanged, as sessions like the native ones',
  },
  {
    name: 'GATEWAY_SOCKETIO_PATH',
    key: 'socketIoPath',
    coerce: 'string',
    schema: Type.String({ pattern: '^/([^?#]*/)?$' }),
    default: '/socket.io/',
    description: "Path of the Socket.IO endpoint (the clients' `path` option), ending with /",
    expected: 'a path starting and ending with /, e.g. /socket.io/',
  },
  {
    name: 'GATEWAY_API_HOST',
    key: 'apiHost',
    coerce: 'string',
    schema: host,
    default: '127.0.0.1',
    description: 'Interface of the separate HTTP API listener (used only with GATEWAY_API_PORT)',
  },
  {
    name: 'GATEWAY_API_PORT',
    key: 'apiPort',
    coerce: 'integer',
    schema: port,
    description: 'Unset: the HTTP API shares the WebSocket listener. Set: a second listener for the API',
  },
  {
    name: 'GATEWAY_NODE_ID',
    key: 'nodeId',
    coerce: 'string',
    schema: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
    derivedDefault: 'node-<12 random hex digits>, new at every start',
    description: 'Name of this node (1-64 of [A-Za-z0-9_.-]); give every node its own, stable one',
  },
  {
    name: 'AMQP_URL',
    key: 'amqpUrl',
    coerce: 'list',
    schema: Type.Array(Type.String({ pattern: '^amqps?://[^:@/]+:[^@/]+@[^/]' }), {
      minItems: 1,
      maxItems: 32,
    }),
    expected:
      'an amqp:// or amqps:// URL with credentials: amqp://user:password@host[:port][/vhost], or up to 32 of them, comma-separated (the nodes of one cluster)',
    redact: withoutPassword,
    description:
      'amqp://user:password@host[:port][/vhost] (or amqps://) URL of the broker; on a RabbitMQ cluster, the URL of every node, comma-separated (tried in order; a lost node fails over to the next). Unset: embedded mode (in-process bus and demo User Manager, no broker)',
  },
  {
    name: 'AMQP_PROFILE',
    key: 'amqpProfile',
    coerce: 'string',
    schema: Type.Union([Type.Literal('rabbitmq'), Type.Literal('generic')]),
    default: 'rabbitmq',
    description:
      'Address defaults: rabbitmq (RabbitMQ 3.x AMQP 1.0 plugin) or generic (addresses used exactly as given)',
  },
  {
    name: 'UM_ADDRESS',
    key: 'umAddress',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description: 'Address of the User Manager (rabbitmq default /queue/user-manager)',
  },
  {
    name: 'UM_QUEUE_TYPE',
    key: 'umQueueType',
    coerce: 'string',
    schema: Type.Union([Type.Literal('quorum'), Type.Literal('classic')]),
    description:
      'RabbitMQ: the type the User Manager queue must have (quorum on a cluster). Set: before it reports ready the gateway declares the queue with this type, and stays not ready with an error when it exists with another. Unset: no check',
  },
  {
    name: 'BROADCAST_ADDRESS',
    key: 'broadcastAddress',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description: 'Address every node receives (rabbitmq default /topic/gateway.broadcast)',
  },
  {
    name: 'NODE_ADDRESS',
    key: 'nodeAddress',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description: "Where this node's receiver attaches (rabbitmq default /queue/<prefix>node.<id>)",
  },
  {
    name: 'NODE_REPLY_TO',
    key: 'nodeReplyTo',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description:
      'The reply_to others use to reach this node (rabbitmq default: /amq/queue/NAME for a NODE_ADDRESS /queue/NAME; else /amq/queue/<prefix>node.<id>)',
  },
  {
    name: 'GATEWAY_QUEUE_PREFIX',
    key: 'queuePrefix',
    coerce: 'string',
    schema: Type.String({ pattern: '^(?!amq\\.)[A-Za-z0-9_.-]{1,64}$' }),
    default: 'gateway.',
    expected: '1-64 characters of [A-Za-z0-9_.-], not starting with amq.',
    description:
      'rabbitmq: start of every queue name the gateway chooses (<prefix>node.<id>, request reply queues); the expiry policy matches it',
  },
  {
    name: 'AMQP_OUTBOX_LIMIT',
    key: 'outboxLimit',
    coerce: 'integer',
    schema: positive(10_000_000),
    default: '10000',
    description: 'Messages held while the broker is away; past it clients get UNAVAILABLE at once',
  },
  {
    name: 'AMQP_SEND_TIMEOUT_MS',
    key: 'sendTimeoutMs',
    coerce: 'integer',
    schema: positive(86_400_000),
    default: '10000',
    description: 'How long a message may wait for the broker to accept it',
  },
  {
    name: 'AMQP_CREDIT',
    key: 'credit',
    coerce: 'integer',
    schema: positive(1000),
    default: '100',
    description: 'Unsettled CI messages a node holds at most per address',
  },
  {
    name: 'GATEWAY_ADMIN_TOKEN',
    key: 'adminToken',
    coerce: 'string',
    schema: Type.String({ minLength: 16 }),
    redact: hidden,
    description: 'Bearer token of the /v1 admin API (>= 16 characters). Unset: the /v1 routes are off',
  },
  {
    name: 'GATEWAY_ALLOWED_ORIGINS',
    key: 'allowedOrigins',
    coerce: 'list',
    schema: Type.Array(Type.String({ pattern: '^https?://[^/]+$' })),
    description:
      'Comma-separated origins allowed to open a session (e.g. https://app.example.com). Unset: any origin',
  },
  {
    name: 'GATEWAY_TRUST_PROXY',
    key: 'trustProxy',
    coerce: 'trustProxy',
    schema: Type.Union([Type.Boolean(), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })]),
    default: 'false',
    description:
      "Fastify trustProxy: whose X-Forwarded-For gives the client's address (per-client limits, logs). false; true (any peer: only when nothing but the proxy can reach the gateway); or a comma-separated list of proxy addresses/CIDRs (or loopback, linklocal, uniquelocal). Hop counts are refused: Fastify 5 ignores them",
  },
  {
    name: 'AUTH_JWT_SECRET',
    key: 'jwtSecret',
    coerce: 'string',
    schema: Type.String({ minLength: 32 }),
    redact: hidden,
    description:
      'Turns on JWT authentication with this HS256 secret (>= 32 characters). Token: Authorization: Bearer, or ?access_token=',
  },
  {
    name: 'AUTH_JWKS_FILE',
    key: 'jwksFile',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description:
      'Turns on JWT authentication with the public keys of this JWKS file (RS256, PS256, ES256, ES384, EdDSA)',
  },
  {
    name: 'AUTH_JWT_AUDIENCE',
    key: 'jwtAudience',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description: 'Required "aud" of client tokens',
  },
  {
    name: 'AUTH_JWT_ISSUER',
    key: 'jwtIssuer',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description: 'Required "iss" of client tokens',
  },
  {
    name: 'GATEWAY_SHUTDOWN_TIMEOUT_MS',
    key: 'shutdownTimeoutMs',
    coerce: 'integer',
    schema: positive(MAX_TIMER_MS),
    default: '15000',
    description:
      'Longest a graceful shutdown may take; past it the process exits with code 1. With a broker it must be at least AMQP_SEND_TIMEOUT_MS + 5000',
  },
  {
    name: 'GATEWAY_HEADERS_TIMEOUT_MS',
    key: 'headersTimeoutMs',
    coerce: 'integer',
    schema: positive(MAX_TIMER_MS),
    default: '10000',
    description:
      'Longest a connection may take to send complete request headers (an upgrade or an API request), from its first byte or from connecting; past it the connection is closed (408)',
  },
  {
    name: 'GATEWAY_REQUEST_TIMEOUT_MS',
    key: 'requestTimeoutMs',
    coerce: 'integer',
    schema: positive(MAX_TIMER_MS),
    default: '30000',
    description:
      'Longest a whole request (headers and body) may take to arrive; past it the connection is closed (408). At least GATEWAY_HEADERS_TIMEOUT_MS',
  },
  {
    name: 'GATEWAY_KEEP_ALIVE_TIMEOUT_MS',
    key: 'keepAliveTimeoutMs',
    coerce: 'integer',
    schema: positive(MAX_TIMER_MS),
    default: '5000',
    description:
      'How long an HTTP connection may stay idle between requests (keep-alive) before it is closed. Keep it above the idle timeout of a proxy that pools connections to the gateway',
  },
  {
    name: 'GATEWAY_MAX_CONNECTIONS',
    key: 'maxConnections',
    coerce: 'integer',
    schema: positive(),
    derivedDefault: "SESSION_MAX + 1000, lowered to fit the process's open-file limit",
    description:
      "Open TCP connections on the WebSocket listener, sessions included; when full, the oldest connection without a complete request is closed for a new one, and past it new connections are closed at once. Default: SESSION_MAX + 1000, lowered to fit the process's open-file limit (with a warning)",
  },
  {
    name: 'GATEWAY_MAX_PENDING_PER_ADDRESS',
    key: 'maxPendingPerAddress',
    coerce: 'integer',
    schema: nonNegative(),
    default: '100',
    description:
      'Connections of one address that have not completed their request (the peer address; behind a GATEWAY_TRUST_PROXY proxy, the client address once the headers are in); past it new ones are closed at once. 0: off',
  },
  {
    name: 'GATEWAY_DEMO_PAGE',
    key: 'demoPage',
    coerce: 'boolean',
    schema: Type.Boolean(),
    default: 'true',
    description: 'Serve the demo page at /',
  },
  {
    name: 'LOG_LEVEL',
    key: 'logLevel',
    coerce: 'string',
    schema: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    ),
    default: 'info',
    description: 'pino log level',
  },
  {
    name: 'SESSION_MAX_PAYLOAD',
    key: 'maxPayload',
    coerce: 'integer',
    schema: positive(64 * 1024 * 1024),
    default: '1048576',
    description: 'Largest client frame in bytes; larger closes with 1009',
  },
  {
    name: 'SESSION_MAX',
    key: 'maxSessions',
    coerce: 'integer',
    schema: positive(),
    default: '10000',
    description: 'Sessions per node; past it new upgrades get HTTP 503',
  },
  {
    name: 'SESSION_MAX_BAD_FRAMES',
    key: 'maxBadFrames',
    coerce: 'integer',
    schema: nonNegative(),
    default: '10',
    description: 'Bad frames a session may send (each answered with an error) before it is closed with 1008',
  },
  {
    name: 'SESSION_RATE_PER_SEC',
    key: 'ratePerSec',
    coerce: 'integer',
    schema: nonNegative(),
    default: '100',
    description: 'Frames per second per session (token bucket refill); 0 turns the rate limit off',
  },
  {
    name: 'SESSION_RATE_BURST',
    key: 'rateBurst',
    coerce: 'integer',
    schema: positive(),
    default: '200',
    description: 'Token bucket size',
  },
  {
    name: 'SESSION_RATE_MAX_VIOLATIONS',
    key: 'rateMaxViolations',
    coerce: 'integer',
    schema: positive(),
    default: '50',
    description: 'RATE_LIMITED answers before the session is closed with 1008',
  },
  {
    name: 'SESSION_MAX_PER_CLIENT',
    key: 'maxSessionsPerClient',
    coerce: 'integer',
    schema: nonNegative(),
    default: '0',
    description:
      'Concurrent sessions per client (the JWT sub when authenticated, else the address); past it the upgrade gets HTTP 429. 0: off',
  },
  {
    name: 'SESSION_CONNECT_RATE_PER_SEC',
    key: 'connectRatePerSec',
    coerce: 'integer',
    schema: nonNegative(),
    default: '0',
    description:
      'New sessions per second per client (token bucket refill); without a token the upgrade gets HTTP 429. 0: off',
  },
  {
    name: 'SESSION_CONNECT_BURST',
    key: 'connectBurst',
    coerce: 'integer',
    schema: positive(),
    default: '10',
    description: 'New sessions a client may open at once (connect token bucket size)',
  },
  {
    name: 'SESSION_ADDRESS_CONNECT_RATE_PER_SEC',
    key: 'addressConnectRatePerSec',
    coerce: 'integer',
    schema: nonNegative(),
    default: '0',
    description:
      'Upgrade attempts per second per address (token bucket refill; request.ip, so GATEWAY_TRUST_PROXY applies), checked before the JWT is verified; without a token the upgrade gets HTTP 429. 0: off',
  },
  {
    name: 'SESSION_ADDRESS_CONNECT_BURST',
    key: 'addressConnectBurst',
    coerce: 'integer',
    schema: positive(),
    default: '20',
    description: 'Upgrade attempts an address may make at once (address token bucket size)',
  },
  {
    name: 'SESSION_MAX_ROOMS',
    key: 'maxRoomsPerSession',
    coerce: 'integer',
    schema: positive(),
    default: '100',
    description: 'Rooms one session may be in',
  },
  {
    name: 'SESSION_MAX_BUFFERED_BYTES',
    key: 'maxBufferedBytes',
    coerce: 'integer',
    schema: positive(),
    default: '4194304',
    description: 'Unsent bytes per session; past it the session is closed with 1013 (slow consumer)',
  },
  {
    name: 'SESSION_HEARTBEAT_MS',
    key: 'heartbeatIntervalMs',
    coerce: 'integer',
    schema: nonNegative(MAX_TIMER_MS),
    default: '30000',
    description: 'Protocol ping interval; a session without pong by the next ping is terminated. 0: off',
  },
  {
    name: 'SESSION_RESUME_WINDOW_MS',
    key: 'resumeWindowMs',
    coerce: 'integer',
    schema: nonNegative(MAX_TIMER_MS),
    default: '0',
    description:
      'How long a session whose connection dropped waits for its client to resume it (PROTOCOL.md 4.1). 0: resume off (version 1 behaviour)',
  },
  {
    name: 'GATEWAY_RESUME_SECRET',
    key: 'resumeSecret',
    coerce: 'string',
    schema: Type.String({ minLength: 32 }),
    redact: hidden,
    description:
      'HMAC key of resume tokens (>= 32 characters), the same on every node of a deployment. Required with AMQP_URL when resume is on; random in embedded mode',
  },
  {
    name: 'SESSION_REPLAY_MAX_FRAMES',
    key: 'replayMaxFrames',
    coerce: 'integer',
    schema: positive(1_000_000),
    default: '1000',
    description: 'Event frames one session keeps for replay (resume on); past it a detached session ends',
  },
  {
    name: 'SESSION_REPLAY_MAX_BYTES',
    key: 'replayMaxBytes',
    coerce: 'integer',
    schema: positive(),
    default: '1048576',
    description:
      'Characters of frame text one session keeps for replay (resume on); past it a detached session ends',
  },
  {
    name: 'NODE_REPLAY_MAX_BYTES',
    key: 'nodeReplayMaxBytes',
    coerce: 'integer',
    schema: positive(),
    default: '134217728',
    description:
      'Characters of frame text all sessions of the node keep for replay; live connections give theirs up first, then a detached session past it ends',
  },
  {
    name: 'GATEWAY_NODE_HEARTBEAT_MS',
    key: 'nodeHeartbeatMs',
    coerce: 'integer',
    schema: nonNegative(MAX_TIMER_MS / 3),
    default: '10000',
    description:
      'NODE_HEARTBEAT to the User Manager every this many ms (AMQP ttl 3 x this, not durable; PROTOCOL.md 4.3). 0: off',
  },
  {
    name: 'GATEWAY_TAKEOVER_TIMEOUT_MS',
    key: 'takeoverTimeoutMs',
    coerce: 'integer',
    schema: positive(60_000),
    default: '3000',
    description:
      "How long a resume waits for the session's old node to hand it over (resume on, PROTOCOL.md 5.4); past it the client gets a new session, reason unavailable",
  },
  {
    name: 'GATEWAY_DRAIN_MS',
    key: 'drainMs',
    coerce: 'integer',
    schema: nonNegative(MAX_TIMER_MS),
    default: '30000',
    description:
      'Rolling deploys (resume on): after SIGTERM, how long the node waits for other nodes to take its sessions over before it ends the rest (at most the resume window). 0: no wait',
  },
]
