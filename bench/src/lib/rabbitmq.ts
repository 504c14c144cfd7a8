import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The broker the bench uses (loopback only). */
export const AMQP = {
  host: '127.0.0.1',
  port: Number(process.env.BENCH_AMQP_PORT ?? 5672),
  username: 'guest',
  password: 'guest',
}
export const AMQP_URL = `amqp://${AMQP.username}:${AMQP.password}@${AMQP.host}:${AMQP.port}`

/** Names of the broker's queues whose name contains `marker`. */
export async function queuesContaining(marker: string): Promise<string[]> {
  const { stdout } = await run('rabbitmqctl', ['list_queues', '--quiet', '--no-table-headers', 'name'], {
    timeout: 30_000,
  })
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => name.length > 0 && name.includes(marker))
}

/** Deletes every queue whose name contains `marker` (the run's unique id); returns their names. */
export async function deleteQueuesContaining(marker: string): Promise<string[]> {
  const names = await queuesContaining(marker)
  await Promise.all(
    names.map((name) =>
      run('rabbitmqctl', ['delete_queue', name], { timeout: 30_000 }).catch(() => undefined),
    ),
  )
  return names
}

/** The broker's OS process id (its CPU is part of every path that crosses it), or undefined. */
export async function brokerPid(): Promise<number | undefined> {
  try {
    const { stdout } = await run('rabbitmqctl', ['eval', 'list_to_integer(os:getpid()).'], {
      timeout: 30_000,
    })
    const pid = Number(stdout.trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}
