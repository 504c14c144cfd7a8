import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const SCRIPT = fileURLToPath(new URL('../../../../scripts/private-rabbitmq.sh', import.meta.url))

/**
 * A PRIVATE RabbitMQ node (scripts/private-rabbitmq.sh) for fault tests: stopping or killing it never
 * touches the machine's broker on 5672. Its own port (TEST_PRIVATE_RABBITMQ_PORT, default 5691) keeps
 * it apart from the bridge package's fault tests (5690).
 */
export class PrivateBroker {
  constructor(readonly port = Number(process.env.TEST_PRIVATE_RABBITMQ_PORT ?? 5691)) {}

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`
  }

  async #script(command: string, ...args: string[]): Promise<string> {
    const { stdout } = await run(
      'bash',
      [SCRIPT, command, ...(command === 'ctl' ? args : [String(this.port)])],
      {
        timeout: 120_000,
        env: {
          ...process.env,
          PRIVATE_RABBITMQ_PORT: String(this.port),
          PRIVATE_RABBITMQ_EXPIRES_MS: '5000',
        },
      },
    )
    return stdout.trim()
  }

  /**
   * Starts the node. A start right after a kill -9 under load once failed here (the new VM did
   * not come up): one more attempt after clearing what is left, then the error carries the tail
   * of the node's log.
   */
  start = async () => {
    try {
      return await this.#script('start')
    } catch (first) {
      const log = this.logTail()
      process.stderr.write(
        `private broker did not start, trying once more: ${(first as Error).message}\n${log}\n`,
      )
      await this.#script('kill').catch(() => '')
      try {
        return await this.#script('start')
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- node log ---\n${this.logTail()}`)
      }
    }
  }
  stopApp = () => this.#script('stop_app')
  startApp = () => this.#script('start_app')
  /** kill -9 of the broker's Erlang VM. */
  kill = () => this.#script('kill')
  destroy = () => this.#script('destroy')
  ctl = (...args: string[]) => this.#script('ctl', ...args)

  /** The last lines of the node's log files (for a failure message). */
  logTail(lines = 60): string {
    const dir = `/tmp/private-rabbitmq-${this.port}/log`
    try {
      return readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => `${f}:\n${readFileSync(`${dir}/${f}`, 'utf8').split('\n').slice(-lines).join('\n')}`)
        .join('\n')
    } catch {
      return '(no log)'
    }
  }

  /** Queue name -> ready messages. */
  async queues(): Promise<Map<string, number>> {
    const out = await this.ctl('list_queues', 'name', 'messages', '--no-table-headers')
    const result = new Map<string, number>()
    for (const line of out.split('\n')) {
      const [name, messages] = line.trim().split(/\s+/)
      if (name) result.set(name, Number(messages ?? 0))
    }
    return result
  }
}
