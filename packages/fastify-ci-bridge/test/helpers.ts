import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { after, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import rhea, { type Connection, type Delivery, type Message } from 'rhea'
import type { BridgeLogger } from '../src/index.js'

const run = promisify(execFile)

export const BROKER_URL = process.env.CI_BRIDGE_TEST_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const PRIVATE_SCRIPT = fileURLToPath(new URL('../../../scripts/private-rabbitmq.sh', import.meta.url))

/** A short random id for unique queue names. */
export function uid(): string {
  return randomBytes(4).toString('hex')
}

export interface Closable {
  close(): unknown
}

/**
 * What a test opens is closed when it ends, pass or fail (`t.after`, or `after` for a whole file),
 * the last opened first: `const keep = closer(t); const bridge = keep(createCiBridge(...))`.
 * Closing one again inside the test is fine (the bridge's and Fastify's close() are idempotent).
 */
export function closer(scope: Pick<TestContext, 'after'>): <T extends Closable>(thing: T) => T {
  const opened: Closable[] = []
  scope.after(async () => {
    for (const thing of opened.reverse()) await thing.close()
  })
  return (thing) => {
    opened.push(thing)
    return thing
  }
}

/**
 * One test file's use of the shared broker: a run id for unique queue names, a raw rhea connection
 * opened on first use, and after the file (whatever failed) what `keep` was given closed, then
 * every queue of the run deleted, and checked gone.
 */
export function sharedBroker(): {
  run: string
  raw: () => Promise<Connection>
  keep: <T extends Closable>(thing: T) => T
} {
  const run = uid()
  let raw: Connection | undefined
  const opened: Closable[] = []
  after(async () => {
    for (const thing of opened.reverse()) await thing.close()
    if (raw) await rawClose(raw)
    await deleteQueuesContaining(run)
    await deleteBroadcastQueues(run)
    const left = (await listQueues()).filter((q) => q.name.includes(run))
    assert.deepEqual(left, [], 'no test queue left behind')
  })
  return {
    run,
    raw: async () => {
      raw ??= await rawConnect()
      return raw
    },
    keep: (thing) => {
      opened.push(thing)
      return thing
    },
  }
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error'
  obj: Record<string, unknown>
  msg: string | undefined
}

/** A logger that keeps what it was told (and prints errors when CI_BRIDGE_TEST_LOG is set). */
export function captureLogger(): BridgeLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = []
  const write = (level: LogEntry['level']) => (obj: object, msg?: string) => {
    entries.push({ level, obj: obj as Record<string, unknown>, msg })
    if (process.env.CI_BRIDGE_TEST_LOG) console.error(level, msg, obj)
  }
  return { entries, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') }
}

// ---- rabbitmqctl ----

export async function rabbitmqctl(args: string[], node?: string): Promise<string> {
  const full = node ? ['-q', '-n', node, ...args] : ['-q', ...args]
  const { stdout } = await run('rabbitmqctl', full, { timeout: 60_000 })
  return stdout
}

export interface QueueInfo {
  name: string
  messages: number
  consumers: number
  durable: boolean
}

export async function listQueues(node?: string): Promise<QueueInfo[]> {
  const out = await rabbitmqctl(
    ['list_queues', 'name', 'messages', 'consumers', 'durable', '--no-table-headers'],
    node,
  )
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [name = '', messages = '0', consumers = '0', durable = 'false'] = line.split(/\s+/)
      return { name, messages: Number(messages), consumers: Number(consumers), durable: durable === 'true' }
    })
}

export async function deleteQueues(names: string[], node?: string): Promise<void> {
  for (const name of names) {
    try {
      await rabbitmqctl(['delete_queue', name], node)
    } catch {
      // already gone
    }
  }
}

/** Deletes every queue whose name contains `marker` (the run's unique id). */
export async function deleteQueuesContaining(marker: string, node?: string): Promise<void> {
  const queues = await listQueues(node)
  await deleteQueues(
    queues.filter((q) => q.name.includes(marker)).map((q) => q.name),
    node,
  )
}

// ---- the private node (scripts/private-rabbitmq.sh) ----

export const PRIVATE_PORT = Number(process.env.PRIVATE_RABBITMQ_PORT ?? 5690)

export async function privateNode(command: string): Promise<string> {
  const { stdout } = await run('bash', [PRIVATE_SCRIPT, command, String(PRIVATE_PORT)], {
    timeout: 120_000,
    env: { ...process.env, PRIVATE_RABBITMQ_EXPIRES_MS: '1000' },
  })
  return stdout.trim()
}

export async function privateNodeName(): Promise<string> {
  const { stdout } = await run('hostname', ['-s'])
  return `test${PRIVATE_PORT}@${stdout.trim()}`
}

// ---- raw rhea peers (not the bridge) ----

function parse(url: string): { host: string; port: number; username: string; password: string } {
  const u = new URL(url)
  return {
    host: u.hostname,
    port: Number(u.port || 5672),
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  }
}

export async function rawConnect(url: string = BROKER_URL): Promise<Connection> {
  const container = rhea.create_container({ id: `raw-${uid()}` })
  container.on('error', () => {})
  const connection = container.connect({ ...parse(url), reconnect: false })
  connection.on('error', () => {})
  connection.on('disconnected', () => {})
  connection.on('connection_error', () => {})
  await new Promise<void>((resolve, reject) => {
    connection.once('connection_open', () => resolve())
    connection.once('disconnected', (context: { error?: Error }) =>
      reject(context.error ?? new Error('disconnected')),
    )
  })
  return connection
}

export async function rawClose(connection: Connection): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000)
    connection.once('connection_close', () => {
      clearTimeout(timer)
      resolve()
    })
    connection.close()
  })
}

export interface RawReceived {
  message: Message
  delivery: Delivery
}

/** A raw receiver that collects messages and accepts them (or leaves them to `settle`). */
export async function rawReceiver(
  connection: Connection,
  address: string,
  options: { durable?: boolean; settle?: (r: RawReceived) => void } = {},
): Promise<{ received: RawReceived[]; close: () => void }> {
  const received: RawReceived[] = []
  const session = connection.create_session()
  session.on('session_error', () => {})
  session.begin()
  const receiver = session.attach_receiver({
    source: { address, durable: options.durable === false ? 0 : 2 },
    autoaccept: false,
    credit_window: 500,
  })
  receiver.on('message', (context: { message?: Message; delivery?: Delivery }) => {
    if (!context.message || !context.delivery) return
    const entry = { message: context.message, delivery: context.delivery }
    received.push(entry)
    if (options.settle) options.settle(entry)
    else context.delivery.accept()
  })
  await new Promise<void>((resolve, reject) => {
    receiver.once('receiver_open', () => resolve())
    session.once('session_error', () => reject(new Error(`receiver on ${address} refused`)))
  })
  return { received, close: () => session.close() }
}

export type RawOutcome = 'accepted' | 'rejected' | 'released' | 'modified'

/** Sends one message with a raw rhea sender and resolves with the broker's outcome. */
export async function rawSend(
  connection: Connection,
  address: string,
  message: Record<string, unknown>,
  options: { durable?: boolean } = {},
): Promise<RawOutcome> {
  const session = connection.create_session()
  session.on('session_error', () => {})
  session.begin()
  const sender = session.attach_sender({ target: { address, durable: options.durable === false ? 0 : 2 } })
  return new Promise<RawOutcome>((resolve) => {
    const done = (outcome: RawOutcome) => () => {
      session.close()
      resolve(outcome)
    }
    sender.once('accepted', done('accepted'))
    sender.once('rejected', done('rejected'))
    sender.once('released', done('released'))
    sender.once('modified', done('modified'))
    sender.once('sendable', () => sender.send(message as unknown as Message))
  })
}

/** A CI message body as the gateway expects it. */
export function pingBody(): { type: 'PING'; v: 1 } {
  return { type: 'PING', v: 1 }
}

export function dataSection(json: unknown): unknown {
  return rhea.message.data_section(
    Buffer.from(typeof json === 'string' ? json : JSON.stringify(json), 'utf8'),
  )
}

/**
 * A broadcast address of this test run only (tests on the shared broker must not hear other runs'
 * broadcasts), and the clean-up of the server-named queues behind it.
 */
export function runBroadcast(run: string): string {
  return `/topic/t-bcast-${run}`
}

export async function deleteBroadcastQueues(run: string, node?: string): Promise<string[]> {
  const bindings = await rabbitmqctl(
    ['list_bindings', 'destination_name', 'routing_key', '--no-table-headers'],
    node,
  )
  const ours = bindings
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([queue, key]) => queue?.startsWith('amq.gen-') && key === `t-bcast-${run}`)
    .map(([queue]) => queue as string)
  await deleteQueues(ours, node)
  return ours
}
