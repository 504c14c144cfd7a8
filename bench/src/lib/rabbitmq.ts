import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * The broker the bench uses (loopback only). BENCH_AMQP_PORT / BENCH_AMQP_VHOST / BENCH_RABBITMQ_NODE
 * point it at another node, e.g. one of scripts/private-rabbitmq-cluster.sh (vhost `gateway`, whose
 * queues are quorum queues): `BENCH_AMQP_PORT=5720 BENCH_AMQP_VHOST=gateway BENCH_RABBITMQ_NODE=cl5720@$(hostname -s)`.
 */
const VHOST = process.env.BENCH_AMQP_VHOST || undefined
export const AMQP = {
  host: '127.0.0.1',
  port: Number(process.env.BENCH_AMQP_PORT ?? 5672),
  username: 'guest',
  password: 'guest',
  ...(VHOST ? { hostname: `vhost:${VHOST}` } : {}),
}
export const AMQP_URL = `amqp://${AMQP.username}:${AMQP.password}@${AMQP.host}:${AMQP.port}${VHOST ? `/${VHOST}` : ''}`

/** rabbitmqctl on the bench's node and vhost. */
function ctl(args: string[]): Promise<{ stdout: string }> {
  const node = process.env.BENCH_RABBITMQ_NODE
  return run('rabbitmqctl', [...(node ? ['-n', node] : []), ...args, ...(VHOST ? ['-p', VHOST] : [])], {
    timeout: 30_000,
  })
}

/** Names of the broker's queues whose name contains `marker`. */
export async function queuesContaining(marker: string): Promise<string[]> {
  const { stdout } = await ctl(['list_queues', '--quiet', '--no-table-headers', 'name'])
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => name.length > 0 && name.includes(marker))
}

/** Deletes every queue whose name contains `marker` (the run's unique id); returns their names. */
export async function deleteQueuesContaining(marker: string): Promise<string[]> {
  const names = await queuesContaining(marker)
  await Promise.all(names.map((name) => ctl(['delete_queue', name]).catch(() => undefined)))
  return names
}

/** The broker's OS process id (its CPU is part of every path that crosses it), or undefined. */
export async function brokerPid(): Promise<number | undefined> {
  try {
    const node = process.env.BENCH_RABBITMQ_NODE
    const { stdout } = await run(
      'rabbitmqctl',
      [...(node ? ['-n', node] : []), 'eval', 'list_to_integer(os:getpid()).'],
      { timeout: 30_000 },
    )
    const pid = Number(stdout.trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}
