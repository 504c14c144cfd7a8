import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const SCRIPT = fileURLToPath(new URL('../../../../scripts/private-rabbitmq-cluster.sh', import.meta.url))

/**
 * A PRIVATE three-node RabbitMQ cluster (scripts/private-rabbitmq-cluster.sh) on the ports of
 * TEST_PRIVATE_RABBITMQ_CLUSTER_PORTS (default 5692,5693,5694), vhost `gateway` with default queue
 * type quorum. Killing its nodes never touches the machine's broker.
 */
export class PrivateCluster {
  readonly ports: number[]
  readonly vhost = 'gateway'

  constructor(ports = process.env.TEST_PRIVATE_RABBITMQ_CLUSTER_PORTS ?? '5692,5693,5694') {
    this.ports = ports.split(/[ ,]+/).filter(Boolean).map(Number)
  }

  /** The URL of one node. */
  url(port: number): string {
    return `amqp://guest:guest@127.0.0.1:${port}/${this.vhost}`
  }

  /** Every node's URL, starting at the `first`th (each gateway its own order). */
  urls(first = 0): string[] {
    return this.ports.map((_, i) => this.url(this.ports[(first + i) % this.ports.length] as number))
  }

  /** The AMQP port in a URL the gateway reports (password masked or not). */
  portOf(url: string | undefined): number | undefined {
    const match = /:(\d+)\//.exec(url ?? '')
    return match ? Number(match[1]) : undefined
  }

  async #script(...args: string[]): Promise<string> {
    const { stdout } = await run('bash', [SCRIPT, ...args], {
      timeout: 180_000,
      env: {
        ...process.env,
        PRIVATE_RABBITMQ_CLUSTER_PORTS: this.ports.join(','),
        PRIVATE_RABBITMQ_CLUSTER_VHOST: this.vhost,
        PRIVATE_RABBITMQ_EXPIRES_MS: '60000',
      },
    })
    return stdout.trim()
  }

  start = () => this.#script('start')
  /**
   * kill -9 of one node's Erlang VM, sent from here so that the instant is exact; resolves with
   * it (performance.now()) once the VM is gone.
   */
  async kill(port: number): Promise<number> {
    const pid = Number(readFileSync(`/tmp/private-rabbitmq-cluster-${port}/node.pid`, 'utf8').trim())
    const at = performance.now()
    process.kill(pid, 'SIGKILL')
    await this.#script('kill', String(port)) // waits until the VM is gone, clears its pid file
    return at
  }
  startNode = (port: number) => this.#script('start-node', String(port))
  destroy = () => this.#script('destroy')
  ctl = (...args: string[]) => this.#script('ctl', ...args)

  /** The AMQP port of the node leading a quorum queue. */
  async leader(queue: string): Promise<number> {
    return Number(await this.#script('leader', queue))
  }

  /** Whether stopping this node now would leave some quorum queue without a majority. */
  async quorumCritical(port: number): Promise<boolean> {
    const node = `cl${port}@${(await run('hostname', ['-s'])).stdout.trim()}`
    try {
      await run('rabbitmq-queues', ['-q', '-n', node, 'check_if_node_is_quorum_critical'], {
        timeout: 30_000,
      })
      return false
    } catch {
      return true
    }
  }
}
