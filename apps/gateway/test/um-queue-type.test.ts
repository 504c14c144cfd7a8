import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { until } from '@session-gateway/test-kit'
import { deleteQueues, unique } from './helpers/broker.js'
import { type ChildGateway, spawnGateway } from './helpers/child-gateway.js'
import { BROKER_URL } from './helpers/fake-user-manager.js'

async function readiness(gateway: ChildGateway): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${gateway.httpUrl}/readyz`)
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

describe('UM_QUEUE_TYPE: the User Manager queue must be of the configured type (real broker)', () => {
  const prefix = unique('umtype')
  const gateways: ChildGateway[] = []
  after(async () => {
    for (const gateway of gateways) await gateway.kill()
    await deleteQueues([`${prefix}.um`, `${prefix}.fresh`])
  })
  const start = async (name: string, env: Record<string, string>, waitReady: boolean) => {
    const gateway = await spawnGateway(
      {
        AMQP_URL: BROKER_URL,
        BROADCAST_ADDRESS: `/topic/${prefix}.bc`,
        GATEWAY_NODE_ID: `${prefix}-${name}`,
        NODE_ADDRESS: `/queue/${prefix}.node-${name}`,
        NODE_REPLY_TO: `/amq/queue/${prefix}.node-${name}`,
        LOG_LEVEL: 'warn',
        ...env,
      },
      { waitReady },
    )
    gateways.push(gateway)
    return gateway
  }

  it('a classic queue where quorum is configured: never ready, the broker reason in /readyz and the log', async () => {
    // The machine's vhost has the default queue type classic: the gateway's AMQP 1.0 attach makes
    // the User Manager queue a classic queue, which is not what UM_QUEUE_TYPE=quorum asks for.
    const wrong = await start('q', { UM_ADDRESS: `/queue/${prefix}.um`, UM_QUEUE_TYPE: 'quorum' }, false)
    await until(
      async () => /but UM_QUEUE_TYPE=quorum/.test(String((await readiness(wrong)).body.problem ?? '')),
      { timeoutMs: 20_000, what: 'the check to refuse the queue' },
    )
    const { status, body } = await readiness(wrong)
    assert.equal(status, 503)
    assert.equal(body.broker, 'open', 'the broker is fine: the queue is not')
    assert.match(
      String(body.problem),
      new RegExp(
        `^the User Manager queue '${prefix}\\.um' is a classic queue, but UM_QUEUE_TYPE=quorum \\(broker: PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '${prefix}\\.um'`,
      ),
    )
    assert.ok(
      wrong.warnings.some((line) => line.level === 50 && /but UM_QUEUE_TYPE=quorum/.test(String(line.msg))),
      'the reason is logged at error',
    )

    // The same queue with UM_QUEUE_TYPE=classic passes.
    const right = await start('c', { UM_ADDRESS: `/queue/${prefix}.um`, UM_QUEUE_TYPE: 'classic' }, true)
    const ok = await readiness(right)
    assert.equal(ok.status, 200)
    assert.equal(ok.body.problem, undefined)
  })

  it('a missing queue is declared with the configured type before the gateway reports ready', async () => {
    // /amq/queue/ never declares: the check alone creates the queue, as a quorum queue.
    const gateway = await start(
      'f',
      { UM_ADDRESS: `/amq/queue/${prefix}.fresh`, UM_QUEUE_TYPE: 'quorum' },
      true,
    )
    assert.equal((await readiness(gateway)).status, 200)
    const { stdout } = await promisify(execFile)('rabbitmqctl', ['-q', 'list_queues', 'name', 'type'])
    assert.match(stdout, new RegExp(`^${prefix}\\.fresh\\s+quorum$`, 'm'))
  })
})
