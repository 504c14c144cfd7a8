import { DEFAULTS as BRIDGE } from 'fastify-ci-bridge'
import { RESUME_DEFAULTS as RESUME, DEFAULTS as SESSIONS } from 'fastify-ws-sessions'
import { type Static, type TSchema, Type } from 'typebox'

/** How a variable's text becomes a value before its schema checks it. */
export type Coerce = 'string' | 'integer' | 'list' | 'boolean' | 'trustProxy'

/** The parts of the gateway a variable configures: the groups of GatewayConfig. */
export type ConfigGroup = 'node' | 'http' | 'sessions' | 'resume' | 'bridge' | 'auth' | 'umQueue'

export interface VariableSpec {
  /** Environment variable name. */
  readonly name: string
  /** The part it configures, and its key there (the option name of the plugin it is passed to). */
  readonly group: ConfigGroup
  readonly key: string
  readonly coerce: Coerce
  readonly schema: TSchema
  /** Default value, or undefined for "unset". */
  readonly default?: string
  /** What --help says the default is, when it is derived rather than fixed (the value is then always set). */
  readonly derivedDefault?: string
  /** Shown by --help. */
  readonly description: string
  /** What a bad value must be, when the schema alone would not say it plainly. */
  readonly expected?: string
  /** How a bad value is shown in the error: secrets are never echoed. */
  readonly redact?: (text: string) => string
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

/** Typed to the letter: the config's types are derived from it. */
const SPECS = [
  {
    name: 'GATEWAY_HOST',
    group: 'http',
    key: 'host',
    coerce: 'string',
    schema: host,
    default: '0.0.0.0',
    description: 'Interface of the WebSocket listener (and of the HTTP API when it shares the listener)',
  },
  {
    name: 'GATEWAY_PORT',
    group: 'http',
    key: 'port',
    coerce: 'integer',
    schema: port,
    default: '8080',
    description: 'Port of the WebSocket listener',
  },
  {
    name: 'GATEWAY_WS_PATH',
    group: 'sessions',
    key: 'path',
    coerce: 'string',
    schema: Type.String({ pattern: '^/[^?#]*$' }),
    default: SESSIONS.path,
    description: 'Path of the WebSocket endpoint',
  },
  {
    name: 'GATEWAY_SOCKETIO',
    group: 'http',
    key: 'socketIo',
    coerce: 'boolean',
    schema: Type.Boolean(),
    default: 'false',
    description:
      'Serve the Socket.IO endpoint (Engine.IO v4, Socket.IO v5, main namespace): Socket.IO clients connect unchanged, as sessions like the native ones',
  },
  {
    name: 'GATEWAY_SOCKETIO_PATH',
    group: 'http',
    key: 'socketIoPath',
    coerce: 'string',
    schema: Type.String({ pattern: '^/([^?#]*/)?$' }),
    default: '/socket.io/',
    description: "Path of the Socket.IO endpoint (the clients' `path` option), ending with /",
    expected: 'a path starting and ending with /, e.g. /socket.io/',
  },
  {
    name: 'GATEWAY_API_HOST',
    group: 'http',
    key: 'apiHost',
    coerce: 'string',
    schema: host,
    default: '127.0.0.1',
    description: 'Interface of the separate HTTP API listener (used only with GATEWAY_API_PORT)',
  },
  {
    name: 'GATEWAY_API_PORT',
    group: 'http',
    key: 'apiPort',
    coerce: 'integer',
    schema: port,
    description: 'Unset: the HTTP API shares the WebSocket listener. Set: a second listener for the API',
  },
  {
    name: 'GATEWAY_NODE_ID',
    group: 'node',
    key: 'id',
    coerce: 'string',
    schema: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }),
    derivedDefault: 'node-<12 random hex digits>, new at every start',
    description: 'Name of this node (1-64 of [A-Za-z0-9_.-]); give every node its own, stable one',
  },
  {
    name: 'AMQP_URL',
    group: 'bridge',
    key: 'url',
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
    group: 'bridge',
    key: 'profile',
    coerce: 'string',
    schema: Type.Union([Type.Literal('rabbitmq'), Type.Literal('generic')]),
    default: BRIDGE.profile,
    description:
      'Address defaults: rabbitmq (RabbitMQ 3.x AMQP 1.0 plugin) or generic (addresses used exactly as given)',
  },
  {
    name: 'UM_ADDRESS',
    group: 'bridge',
    key: 'userManagerAddress',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description: 'Address of the User Manager (rabbitmq default /queue/user-manager)',
  },
  {
    name: 'UM_QUEUE_TYPE',
    group: 'umQueue',
    key: 'type',
    coerce: 'string',
    schema: Type.Union([Type.Literal('quorum'), Type.Literal('classic')]),
    description:
      'RabbitMQ: the type the User Manager queue must have (quorum on a cluster). Set: before it reports ready the gateway declares the queue with this type, and stays not ready with an error when it exists with another. Unset: no check',
  },
  {
    name: 'BROADCAST_ADDRESS',
    group: 'bridge',
    key: 'broadcastAddress',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description: 'Address every node receives (rabbitmq default /topic/gateway.broadcast)',
  },
  {
    name: 'NODE_ADDRESS',
    group: 'bridge',
    key: 'nodeAddress',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description: "Where this node's receiver attaches (rabbitmq default /queue/<prefix>node.<id>)",
  },
  {
    name: 'NODE_REPLY_TO',
    group: 'bridge',
    key: 'nodeReplyTo',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description:
      'The reply_to others use to reach this node (rabbitmq default: /amq/queue/NAME for a NODE_ADDRESS /queue/NAME; else /amq/queue/<prefix>node.<id>)',
  },
  {
    name: 'GATEWAY_QUEUE_PREFIX',
    group: 'bridge',
    key: 'queuePrefix',
    coerce: 'string',
    schema: Type.String({ pattern: '^(?!amq\\.)[A-Za-z0-9_.-]{1,64}$' }),
    default: BRIDGE.queuePrefix,
    expected: '1-64 characters of [A-Za-z0-9_.-], not starting with amq.',
    description:
      'rabbitmq: start of every queue name the gateway chooses (<prefix>node.<id>, request reply queues); the expiry policy matches it',
  },
  {
    name: 'AMQP_OUTBOX_LIMIT',
    group: 'bridge',
    key: 'outboxLimit',
    coerce: 'integer',
    schema: positive(10_000_000),
    default: String(BRIDGE.outboxLimit),
    description: 'Messages held while the broker is away; past it clients get UNAVAILABLE at once',
  },
  {
    name: 'AMQP_SEND_TIMEOUT_MS',
    group: 'bridge',
    key: 'sendTimeoutMs',
    coerce: 'integer',
    schema: positive(86_400_000),
    default: String(BRIDGE.sendTimeoutMs),
    description: 'How long a message may wait for the broker to accept it',
  },
  {
    name: 'AMQP_CREDIT',
    group: 'bridge',
    key: 'credit',
    coerce: 'integer',
    schema: positive(1000),
    default: String(BRIDGE.credit),
    description: 'Unsettled CI messages a node holds at most per address',
  },
  {
    name: 'GATEWAY_ADMIN_TOKEN',
    group: 'http',
    key: 'adminToken',
    coerce: 'string',
    schema: Type.String({ minLength: 16 }),
    redact: hidden,
    description: 'Bearer token of the /v1 admin API (>= 16 characters). Unset: the /v1 routes are off',
  },
  {
    name: 'GATEWAY_ALLOWED_ORIGINS',
    group: 'sessions',
    key: 'allowedOrigins',
    coerce: 'list',
    schema: Type.Array(Type.String({ pattern: '^https?://[^/]+$' })),
    description:
      'Comma-separated origins allowed to open a session (e.g. https://app.example.com). Unset: any origin',
  },
  {
    name: 'GATEWAY_TRUST_PROXY',
    group: 'http',
    key: 'trustProxy',
    coerce: 'trustProxy',
    schema: Type.Union([Type.Boolean(), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })]),
    default: 'false',
    description:
      "Fastify trustProxy: whose X-Forwarded-For gives the client's address (per-client limits, logs). false; true (any peer: only when nothing but the proxy can reach the gateway); or a comma-separated list of proxy addresses/CIDRs (or loopback, linklocal, uniquelocal). Hop counts are refused: Fastify 5 ignores them",
  },
  {
    name: 'AUTH_JWT_SECRET',
    group: 'auth',
    key: 'secret',
    coerce: 'string',
    schema: Type.String({ minLength: 32 }),
    redact: hidden,
    description:
      'Turns on JWT authentication with this HS256 secret (>= 32 characters). Token: Authorization: Bearer, or ?access_token=',
  },
  {
    name: 'AUTH_JWKS_FILE',
    group: 'auth',
    key: 'jwksFile',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description:
      'Turns on JWT authentication with the public keys of this JWKS file (RS256, PS256, ES256, ES384, EdDSA)',
  },
  {
    name: 'AUTH_JWT_AUDIENCE',
    group: 'auth',
    key: 'audience',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description: 'Required "aud" of client tokens',
  },
  {
    name: 'AUTH_JWT_ISSUER',
    group: 'auth',
    key: 'issuer',
    coerce: 'string',
    schema: Type.String({ minLength: 1 }),
    description: 'Required "iss" of client tokens',
  },
  {
    name: 'GATEWAY_SHUTDOWN_TIMEOUT_MS',
    group: 'node',
    key: 'shutdownTimeoutMs',
    coerce: 'integer',
    schema: positive(MAX_TIMER_MS),
    default: '15000',
    description:
      'Longest a graceful shutdown may take; past it the process exits with code 1. With a broker it must be at least AMQP_SEND_TIMEOUT_MS + 5000',
  },
  {
    name: 'GATEWAY_HEADERS_TIMEOUT_MS',
    group: 'http',
    key: 'headersTimeoutMs',
    coerce: 'integer',
    schema: positive(MAX_TIMER_MS),
    default: '10000',
    description:
      'Longest a connection may take to send complete request headers (an upgrade or an API request), from its first byte or from connecting; past it the connection is closed (408)',
  },
  {
    name: 'GATEWAY_REQUEST_TIMEOUT_MS',
    group: 'http',
    key: 'requestTimeoutMs',
    coerce: 'integer',
    schema: positive(MAX_TIMER_MS),
    default: '30000',
    description:
      'Longest a whole request (headers and body) may take to arrive; past it the connection is closed (408). At least GATEWAY_HEADERS_TIMEOUT_MS',
  },
  {
    name: 'GATEWAY_KEEP_ALIVE_TIMEOUT_MS',
    group: 'http',
    key: 'keepAliveTimeoutMs',
    coerce: 'integer',
    schema: positive(MAX_TIMER_MS),
    default: '5000',
    description:
      'How long an HTTP connection may stay idle between requests (keep-alive) before it is closed. Keep it above the idle timeout of a proxy that pools connections to the gateway',
  },
  {
    name: 'GATEWAY_MAX_CONNECTIONS',
    group: 'http',
    key: 'maxConnections',
    coerce: 'integer',
    schema: positive(),
    derivedDefault: "SESSION_MAX + 1000, lowered to fit the process's open-file limit",
    description:
      "Open TCP connections on the WebSocket listener, sessions included; when full, the oldest connection without a complete request is closed for a new one, and past it new connections are closed at once. Default: SESSION_MAX + 1000, lowered to fit the process's open-file limit (with a warning)",
  },
  {
    name: 'GATEWAY_MAX_PENDING_PER_ADDRESS',
    group: 'http',
    key: 'maxPendingPerAddress',
    coerce: 'integer',
    schema: nonNegative(),
    default: '100',
    description:
      'Connections of one address that have not completed their request (the peer address; behind a GATEWAY_TRUST_PROXY proxy, the client address once the headers are in); past it new ones are closed at once. 0: off',
  },
  {
    name: 'GATEWAY_DEMO_PAGE',
    group: 'http',
    key: 'demoPage',
    coerce: 'boolean',
    schema: Type.Boolean(),
    default: 'true',
    description: 'Serve the demo page at /',
  },
  {
    name: 'LOG_LEVEL',
    group: 'node',
    key: 'logLevel',
    coerce: 'string',
    schema: Type.Union([
      Type.Literal('fatal'),
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('info'),
      Type.Literal('debug'),
      Type.Literal('trace'),
      Type.Literal('silent'),
    ]),
    default: 'info',
    description: 'pino log level',
  },
  {
    name: 'SESSION_MAX_PAYLOAD',
    group: 'sessions',
    key: 'maxPayload',
    coerce: 'integer',
    schema: positive(64 * 1024 * 1024),
    default: String(SESSIONS.maxPayload),
    description: 'Largest client frame in bytes; larger closes with 1009',
  },
  {
    name: 'SESSION_MAX',
    group: 'sessions',
    key: 'maxSessions',
    coerce: 'integer',
    schema: positive(),
    default: String(SESSIONS.maxSessions),
    description: 'Sessions per node; past it new upgrades get HTTP 503',
  },
  {
    name: 'SESSION_MAX_BAD_FRAMES',
    group: 'sessions',
    key: 'maxBadFrames',
    coerce: 'integer',
    schema: nonNegative(),
    default: String(SESSIONS.maxBadFrames),
    description: 'Bad frames a session may send (each answered with an error) before it is closed with 1008',
  },
  {
    name: 'SESSION_RATE_PER_SEC',
    group: 'sessions',
    key: 'ratePerSec',
    coerce: 'integer',
    schema: nonNegative(),
    default: String(SESSIONS.rateLimit.ratePerSec),
    description: 'Frames per second per session (token bucket refill); 0 turns the rate limit off',
  },
  {
    name: 'SESSION_RATE_BURST',
    group: 'sessions',
    key: 'rateBurst',
    coerce: 'integer',
    schema: positive(),
    default: String(SESSIONS.rateLimit.burst),
    description: 'Token bucket size',
  },
  {
    name: 'SESSION_RATE_MAX_VIOLATIONS',
    group: 'sessions',
    key: 'rateMaxViolations',
    coerce: 'integer',
    schema: positive(),
    default: String(SESSIONS.rateLimit.maxViolations),
    description: 'RATE_LIMITED answers before the session is closed with 1008',
  },
  {
    name: 'SESSION_MAX_PER_CLIENT',
    group: 'sessions',
    key: 'maxSessionsPerClient',
    coerce: 'integer',
    schema: nonNegative(),
    default: String(SESSIONS.maxSessionsPerClient),
    description:
      'Concurrent sessions per client (the JWT sub when authenticated, else the address); past it the upgrade gets HTTP 429. 0: off',
  },
  {
    name: 'SESSION_CONNECT_RATE_PER_SEC',
    group: 'sessions',
    key: 'connectRatePerSec',
    coerce: 'integer',
    schema: nonNegative(),
    default: '0',
    description:
      'New sessions per second per client (token bucket refill); without a token the upgrade gets HTTP 429. 0: off',
  },
  {
    name: 'SESSION_CONNECT_BURST',
    group: 'sessions',
    key: 'connectBurst',
    coerce: 'integer',
    schema: positive(),
    default: '10',
    description: 'New sessions a client may open at once (connect token bucket size)',
  },
  {
    name: 'SESSION_ADDRESS_CONNECT_RATE_PER_SEC',
    group: 'sessions',
    key: 'addressConnectRatePerSec',
    coerce: 'integer',
    schema: nonNegative(),
    default: '0',
    description:
      'Upgrade attempts per second per address (token bucket refill; request.ip, so GATEWAY_TRUST_PROXY applies), checked before the JWT is verified; without a token the upgrade gets HTTP 429. 0: off',
  },
  {
    name: 'SESSION_ADDRESS_CONNECT_BURST',
    group: 'sessions',
    key: 'addressConnectBurst',
    coerce: 'integer',
    schema: positive(),
    default: '20',
    description: 'Upgrade attempts an address may make at once (address token bucket size)',
  },
  {
    name: 'SESSION_MAX_ROOMS',
    group: 'sessions',
    key: 'maxRoomsPerSession',
    coerce: 'integer',
    schema: positive(),
    default: String(SESSIONS.maxRoomsPerSession),
    description: 'Rooms one session may be in',
  },
  {
    name: 'SESSION_MAX_BUFFERED_BYTES',
    group: 'sessions',
    key: 'maxBufferedBytes',
    coerce: 'integer',
    schema: positive(),
    default: String(SESSIONS.maxBufferedBytes),
    description: 'Unsent bytes per session; past it the session is closed with 1013 (slow consumer)',
  },
  {
    name: 'SESSION_HEARTBEAT_MS',
    group: 'sessions',
    key: 'heartbeatIntervalMs',
    coerce: 'integer',
    schema: nonNegative(MAX_TIMER_MS),
    default: String(SESSIONS.heartbeatIntervalMs),
    description: 'Protocol ping interval; a session without pong by the next ping is terminated. 0: off',
  },
  {
    name: 'SESSION_RESUME_WINDOW_MS',
    group: 'resume',
    key: 'windowMs',
    coerce: 'integer',
    schema: nonNegative(MAX_TIMER_MS),
    default: '0',
    description:
      'How long a session whose connection dropped waits for its client to resume it (PROTOCOL.md 4.1). 0: resume off (version 1 behaviour)',
  },
  {
    name: 'GATEWAY_RESUME_SECRET',
    group: 'resume',
    key: 'secret',
    coerce: 'string',
    schema: Type.String({ minLength: 32 }),
    redact: hidden,
    description:
      'HMAC key of resume tokens (>= 32 characters), the same on every node of a deployment. Required with AMQP_URL when resume is on; random in embedded mode',
  },
  {
    name: 'SESSION_REPLAY_MAX_FRAMES',
    group: 'resume',
    key: 'maxReplayFrames',
    coerce: 'integer',
    schema: positive(1_000_000),
    default: String(RESUME.maxReplayFrames),
    description: 'Event frames one session keeps for replay (resume on); past it a detached session ends',
  },
  {
    name: 'SESSION_REPLAY_MAX_BYTES',
    group: 'resume',
    key: 'maxReplayBytes',
    coerce: 'integer',
    schema: positive(),
    default: String(RESUME.maxReplayBytes),
    description:
      'Characters of frame text one session keeps for replay (resume on); past it a detached session ends',
  },
  {
    name: 'NODE_REPLAY_MAX_BYTES',
    group: 'resume',
    key: 'maxNodeReplayBytes',
    coerce: 'integer',
    schema: positive(),
    default: String(RESUME.maxNodeReplayBytes),
    description:
      'Characters of frame text all sessions of the node keep for replay; live connections give theirs up first, then a detached session past it ends',
  },
  {
    name: 'GATEWAY_NODE_HEARTBEAT_MS',
    group: 'node',
    key: 'heartbeatMs',
    coerce: 'integer',
    schema: nonNegative(MAX_TIMER_MS / 3),
    default: '10000',
    description:
      'NODE_HEARTBEAT to the User Manager every this many ms (AMQP ttl 3 x this, not durable; PROTOCOL.md 4.3). 0: off',
  },
  {
    name: 'GATEWAY_TAKEOVER_TIMEOUT_MS',
    group: 'node',
    key: 'takeoverTimeoutMs',
    coerce: 'integer',
    schema: positive(60_000),
    default: '3000',
    description:
      "How long a resume waits for the session's old node to hand it over (resume on, PROTOCOL.md 5.4); past it the client gets a new session, reason unavailable",
  },
  {
    name: 'GATEWAY_LIFECYCLE_COALESCE_MS',
    group: 'node',
    key: 'lifecycleCoalesceMs',
    coerce: 'integer',
    schema: nonNegative(100),
    default: '25',
    description:
      "In a burst of connects, resumes or disconnects (each within 2 ms of the last), how long the node holds its AMQP writes so that the burst's CLIENT_* messages reach the broker in one write (or until 64 KiB are held). 0: each is written at the end of its turn",
  },
  {
    name: 'GATEWAY_DRAIN_MS',
    group: 'node',
    key: 'drainMs',
    coerce: 'integer',
    schema: nonNegative(MAX_TIMER_MS),
    default: '30000',
    description:
      'Rolling deploys (resume on): after SIGTERM, how long the node waits for other nodes to take its sessions over before it ends the rest (at most the resume window). 0: no wait',
  },
] as const satisfies readonly VariableSpec[]

/** Every variable the gateway reads, in the order --help prints them. */
export const VARIABLES: readonly VariableSpec[] = SPECS

type Spec = (typeof SPECS)[number]
/** Set whenever the configuration loads: it has a default (fixed or derived). */
type AlwaysSet<S> = S extends { default: string } | { derivedDefault: string } ? true : false
type Flat<T> = { [K in keyof T]: T[K] }
type GroupOf<S extends Spec> = Flat<
  { [X in S as AlwaysSet<X> extends true ? X['key'] : never]: Static<X['schema']> } & {
    [X in S as AlwaysSet<X> extends true ? never : X['key']]?: Static<X['schema']>
  }
>

/** The configuration by the part it configures, typed from the variables' schemas. */
export type ConfigGroups = { [G in ConfigGroup]: GroupOf<Extract<Spec, { group: G }>> }
