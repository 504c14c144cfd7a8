// Option validation: exact messages, at registration; defaults.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import Fastify from 'fastify'
import fastifyCiBridge, { type CiBridgeOptions, createCiBridge } from '../src/index.js'
import { resolveOptions } from '../src/options.js'

const base = { url: 'amqp://guest:guest@127.0.0.1:5672', nodeId: 'n1' }

const cases: Array<[string, unknown, string]> = [
  [
    'not an object',
    'amqp://x',
    'fastify-ci-bridge: options must be an object with at least "url" and "nodeId"',
  ],
  [
    'no url',
    { nodeId: 'n1' },
    'fastify-ci-bridge: "url" is required: amqp://user:password@host:port or amqps://user:password@host:port',
  ],
  ['url not a string', { ...base, url: 5 }, 'fastify-ci-bridge: "url" must be a string or a list of strings'],
  [
    'url not a URL',
    { ...base, url: 'guest@localhost' },
    'fastify-ci-bridge: "url" is not a valid URL (expected amqp://user:password@host:port)',
  ],
  [
    'url of another scheme',
    { ...base, url: 'http://guest:guest@localhost' },
    'fastify-ci-bridge: "url" must start with amqp:// or amqps:// (got http://)',
  ],
  [
    'url without credentials',
    { ...base, url: 'amqp://localhost:5672' },
    'fastify-ci-bridge: "url" must carry credentials: amqp://user:password@host:port',
  ],
  [
    'url without password',
    { ...base, url: 'amqp://guest@localhost:5672' },
    'fastify-ci-bridge: "url" must carry credentials: amqp://user:password@host:port',
  ],
  [
    'no nodeId',
    { url: base.url },
    'fastify-ci-bridge: "nodeId" is required: 1-64 characters of [A-Za-z0-9_.-]',
  ],
  [
    'bad nodeId',
    { ...base, nodeId: 'a b' },
    'fastify-ci-bridge: "nodeId" is required: 1-64 characters of [A-Za-z0-9_.-]',
  ],
  [
    'nodeId too long',
    { ...base, nodeId: 'x'.repeat(65) },
    'fastify-ci-bridge: "nodeId" is required: 1-64 characters of [A-Za-z0-9_.-]',
  ],
  ['unknown option', { ...base, credits: 5 }, 'fastify-ci-bridge: unknown option "credits"'],
  [
    'bad profile',
    { ...base, profile: 'artemis' },
    "fastify-ci-bridge: \"profile\" must be 'rabbitmq' or 'generic'",
  ],
  [
    'empty address',
    { ...base, nodeAddress: ' ' },
    'fastify-ci-bridge: "nodeAddress" must be a non-empty string',
  ],
  [
    'generic without addresses',
    { ...base, profile: 'generic', userManagerAddress: 'um' },
    'fastify-ci-bridge: profile \'generic\' uses addresses exactly as given: set "nodeAddress", "broadcastAddress"',
  ],
  [
    'tls not an object',
    { ...base, url: 'amqps://u:p@h', tls: true },
    'fastify-ci-bridge: "tls" must be an object (node:tls connect options)',
  ],
  ['tls without amqps', { ...base, tls: {} }, 'fastify-ci-bridge: "tls" needs an amqps:// url'],
  [
    'reconnect not an object',
    { ...base, reconnect: 100 },
    'fastify-ci-bridge: "reconnect" must be an object: { initialDelayMs?, maxDelayMs? }',
  ],
  [
    'reconnect unknown key',
    { ...base, reconnect: { delay: 1 } },
    'fastify-ci-bridge: unknown option "reconnect.delay"',
  ],
  [
    'reconnect delay not positive',
    { ...base, reconnect: { initialDelayMs: 0 } },
    'fastify-ci-bridge: "initialDelayMs" must be an integer from 1 to 3600000',
  ],
  [
    'reconnect max below initial',
    { ...base, reconnect: { initialDelayMs: 500, maxDelayMs: 100 } },
    'fastify-ci-bridge: "reconnect.maxDelayMs" must be at least "reconnect.initialDelayMs"',
  ],
  ['credit 0', { ...base, credit: 0 }, 'fastify-ci-bridge: "credit" must be an integer from 1 to 1000'],
  [
    'credit too big',
    { ...base, credit: 5000 },
    'fastify-ci-bridge: "credit" must be an integer from 1 to 1000',
  ],
  [
    'credit not an integer',
    { ...base, credit: 2.5 },
    'fastify-ci-bridge: "credit" must be an integer from 1 to 1000',
  ],
  [
    'outboxLimit 0',
    { ...base, outboxLimit: 0 },
    'fastify-ci-bridge: "outboxLimit" must be an integer from 1 to 10000000',
  ],
  [
    'sendTimeoutMs a string',
    { ...base, sendTimeoutMs: '10' },
    'fastify-ci-bridge: "sendTimeoutMs" must be an integer from 1 to 86400000',
  ],
  [
    'dedupeWindow negative',
    { ...base, dedupeWindow: -1 },
    'fastify-ci-bridge: "dedupeWindow" must be an integer from 0 to 10000000',
  ],
  [
    'closeTimeoutMs negative',
    { ...base, closeTimeoutMs: -5 },
    'fastify-ci-bridge: "closeTimeoutMs" must be an integer from 0 to 3600000',
  ],
  [
    'onMessage not a function',
    { ...base, onMessage: 'handler' },
    'fastify-ci-bridge: "onMessage" must be a function (message, meta) => Promise<void> | void',
  ],
  ['url list empty', { ...base, url: [] }, 'fastify-ci-bridge: "url" as a list must hold 1 to 32 URLs'],
  [
    'url list with a bad entry',
    { ...base, url: ['amqp://guest:guest@n1', 'amqp://n2'] },
    'fastify-ci-bridge: "url" must carry credentials: amqp://user:password@host:port',
  ],
  [
    'url list naming two vhosts',
    { ...base, url: ['amqp://guest:guest@n1/a', 'amqp://guest:guest@n2/b'] },
    'fastify-ci-bridge: every URL of "url" must name the same vhost (they are nodes of one cluster)',
  ],
  [
    'several URLs in one string',
    { ...base, url: 'amqp://guest:guest@n1,amqp://guest:guest@n2' },
    'fastify-ci-bridge: "url" holds several URLs in one string: give them as a list (["amqp://…", "amqp://…"])',
  ],
  [
    'tls with one amqp:// URL in the list',
    { ...base, url: ['amqps://guest:guest@n1', 'amqp://guest:guest@n2'], tls: {} },
    'fastify-ci-bridge: "tls" needs an amqps:// url',
  ],
  [
    'queuePrefix with a space',
    { ...base, queuePrefix: 'my app.' },
    'fastify-ci-bridge: "queuePrefix" must be 1-64 characters of [A-Za-z0-9_.-]',
  ],
  [
    'queuePrefix in the amq. namespace',
    { ...base, queuePrefix: 'amq.gw.' },
    'fastify-ci-bridge: "queuePrefix" must not start with "amq." (RabbitMQ reserves it)',
  ],
  [
    'rabbitmq nodeAddress behind which the broker names the queue, without nodeReplyTo',
    { ...base, nodeAddress: '/topic/gw.n1' },
    'fastify-ci-bridge: "nodeAddress" /topic/gw.n1: the broker names the queue behind it, so no reply address can be derived; set "nodeReplyTo" too, or use /queue/NAME',
  ],
  [
    'containerId empty',
    { ...base, containerId: '' },
    'fastify-ci-bridge: "containerId" must be a non-empty string',
  ],
]

for (const [name, options, message] of cases) {
  test(`options: ${name}`, () => {
    assert.throws(() => resolveOptions(options, 'i1'), { message })
  })
}

test('options are checked at registration: ready() rejects with the same message', async () => {
  const app = Fastify()
  app.register(fastifyCiBridge, { url: base.url } as CiBridgeOptions)
  await assert.rejects(async () => app.ready(), {
    message: 'fastify-ci-bridge: "nodeId" is required: 1-64 characters of [A-Za-z0-9_.-]',
  })
  await app.close()
})

test('defaults: rabbitmq profile addresses, limits, container id', () => {
  const o = resolveOptions(base, 'i1')
  assert.equal(o.containerId, 'gateway-n1')
  assert.equal(o.profile, 'rabbitmq')
  assert.equal(o.userManagerAddress, '/queue/user-manager')
  assert.equal(o.nodeAddress, '/queue/gateway.node.n1')
  assert.equal(o.nodeReplyTo, '/amq/queue/gateway.node.n1')
  assert.equal(o.broadcastAddress, '/topic/gateway.broadcast')
  assert.equal(o.requestReplyAddress, '/queue/gateway.node.n1.reply.i1')
  assert.equal(o.requestReplyTo, '/amq/queue/gateway.node.n1.reply.i1')
  assert.deepEqual(
    [
      o.initialDelayMs,
      o.maxDelayMs,
      o.outboxLimit,
      o.sendTimeoutMs,
      o.credit,
      o.dedupeWindow,
      o.closeTimeoutMs,
    ],
    [100, 5000, 10_000, 10_000, 100, 10_000, 5000],
  )
  assert.deepEqual(o.endpoints, [
    {
      host: '127.0.0.1',
      port: 5672,
      transport: 'tcp',
      username: 'guest',
      password: 'guest',
      safeUrl: 'amqp://guest:***@127.0.0.1:5672',
      vhost: undefined,
    },
  ])
})

test('a list of URLs: the nodes of one cluster, kept in order, each with its own credentials', () => {
  const o = resolveOptions(
    { ...base, url: ['amqp://a:pa@n1:5672/gw', 'amqp://b:pb@n2:5673/gw', 'amqp://a:pa@[::1]/gw'] },
    'i1',
  )
  assert.deepEqual(
    o.endpoints.map((e) => [e.host, e.port, e.username, e.password, e.safeUrl]),
    [
      ['n1', 5672, 'a', 'pa', 'amqp://a:***@n1:5672/gw'],
      ['n2', 5673, 'b', 'pb', 'amqp://b:***@n2:5673/gw'],
      ['::1', 5672, 'a', 'pa', 'amqp://a:***@[::1]/gw'],
    ],
  )
  assert.equal(o.vhost, 'gw')
})

test('rabbitmq: queuePrefix names every queue the bridge chooses; a /queue/NAME nodeAddress gives its /amq/queue/NAME reply address', () => {
  const o = resolveOptions({ ...base, queuePrefix: 'chat-gw.' }, 'i1')
  assert.equal(o.nodeAddress, '/queue/chat-gw.node.n1')
  assert.equal(o.nodeReplyTo, '/amq/queue/chat-gw.node.n1')
  assert.equal(o.requestReplyAddress, '/queue/chat-gw.node.n1.reply.i1')
  assert.equal(o.requestReplyTo, '/amq/queue/chat-gw.node.n1.reply.i1')
  const given = resolveOptions({ ...base, nodeAddress: '/queue/edge-7' }, 'i1')
  assert.equal(given.nodeReplyTo, '/amq/queue/edge-7')
  assert.equal(resolveOptions({ ...base, nodeAddress: 'edge-8' }, 'i1').nodeReplyTo, '/amq/queue/edge-8')
  const both = resolveOptions(
    { ...base, nodeAddress: '/topic/x', nodeReplyTo: '/exchange/amq.topic/x' },
    'i1',
  )
  assert.equal(both.nodeReplyTo, '/exchange/amq.topic/x')
})

test('amqps:// defaults to port 5671 and TLS; credentials are URL-decoded; a path is the vhost', () => {
  const o = resolveOptions(
    { ...base, url: 'amqps://us%40er:p%3Ass@broker.example/prod', tls: { ca: 'x' } },
    'i1',
  )
  const [endpoint] = o.endpoints
  assert.equal(endpoint?.transport, 'tls')
  assert.equal(endpoint?.port, 5671)
  assert.equal(endpoint?.username, 'us@er')
  assert.equal(endpoint?.password, 'p:ss')
  assert.equal(o.vhost, 'prod')
  assert.deepEqual(o.tls, { ca: 'x' })
})

test('generic profile: addresses exactly as given; reply-to defaults to the receiving address', () => {
  const o = resolveOptions(
    {
      ...base,
      profile: 'generic',
      userManagerAddress: 'um',
      nodeAddress: 'nodes/n1',
      broadcastAddress: 'broadcast',
      requestReplyAddress: 'replies/n1',
    },
    'i1',
  )
  assert.deepEqual(
    [
      o.userManagerAddress,
      o.nodeAddress,
      o.nodeReplyTo,
      o.broadcastAddress,
      o.requestReplyAddress,
      o.requestReplyTo,
    ],
    ['um', 'nodes/n1', 'nodes/n1', 'broadcast', 'replies/n1', 'replies/n1'],
  )
})

test('generic profile without requestReplyAddress: resolved, and request() is refused with a message that says what to set', async (t) => {
  const generic = {
    ...base,
    url: 'amqp://guest:guest@127.0.0.1:1',
    profile: 'generic' as const,
    userManagerAddress: 'um',
    nodeAddress: 'nodes/n1',
    broadcastAddress: 'broadcast',
  }
  const o = resolveOptions(generic, 'i1')
  assert.equal(o.requestReplyAddress, undefined)
  assert.equal(o.requestReplyTo, undefined)
  const bridge = createCiBridge({ ...generic, closeTimeoutMs: 100 })
  t.after(() => bridge.close())
  await assert.rejects(bridge.request('nodes/n2', { type: 'PING', v: 1 }), {
    message:
      'fastify-ci-bridge: request() needs a reply address: set "requestReplyAddress" (profile \'generic\')',
  })
})
