import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { GatewayNode, NodeProcess } from './helpers/gateway-process.js'
import { describeResume } from './helpers/resume-scenarios.js'

// Broker mode: the machine's RabbitMQ, the demo User Manager as its own process, one gateway node
// with resume on. Every address is unique to this run; the queues are deleted afterwards.
const AMQP_URL = process.env.AMQP_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const run = randomBytes(4).toString('hex')
const umQueue = `client-test-um-${run}`
const nodeId = `client-test-${run}`
const env = {
  AMQP_URL,
  UM_ADDRESS: `/queue/${umQueue}`,
  BROADCAST_ADDRESS: `/topic/gateway.broadcast.client-test-${run}`,
}

function brokerReachable(): Promise<boolean> {
  const { hostname, port } = new URL(AMQP_URL)
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 5672) })
    socket.setTimeout(1000)
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
    socket.once('timeout', () => done(false))
  })
}

if (!(await brokerReachable()) && !process.env.CI) {
  test('client library against a gateway with resume on (rabbitmq)', {
    skip: `nothing answers at ${AMQP_URL}: start RabbitMQ with AMQP 1.0 (scripts/ensure-rabbitmq.sh); with CI set, this fails instead`,
  }, () => {})
} else {
  let um: NodeProcess | undefined
  let node: GatewayNode | undefined
  describeResume({
    mode: 'rabbitmq',
    async start() {
      um = NodeProcess.start('demo user manager', 'demo/demo-um-main.js', env)
      node = await GatewayNode.start({
        ...env,
        GATEWAY_NODE_ID: nodeId,
        SESSION_RESUME_WINDOW_MS: '30000',
        GATEWAY_RESUME_SECRET: randomBytes(32).toString('hex'),
      })
      return node
    },
    async stop() {
      await node?.stop()
      await um?.stop()
      const exec = promisify(execFile)
      for (const queue of [umQueue, `gateway.node.${nodeId}`]) {
        await exec('rabbitmqctl', ['delete_queue', queue], { timeout: 15_000 }).catch(() => {})
      }
    },
    explain: () => `${node?.process.explain() ?? ''}\n${um?.explain() ?? ''}`,
  })
}
