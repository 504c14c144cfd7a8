import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A name unique to this test run. */
export const unique = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`

/** Deletes queues on the machine's broker (missing ones are fine). */
export async function deleteQueues(names: Iterable<string>): Promise<void> {
  for (const name of names) {
    await run('rabbitmqctl', ['delete_queue', name]).catch(() => {})
  }
}

/** Names of the broker's queues. */
export async function listQueues(): Promise<string[]> {
  const { stdout } = await run('rabbitmqctl', ['list_queues', 'name', '--no-table-headers', '--quiet'])
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
}
