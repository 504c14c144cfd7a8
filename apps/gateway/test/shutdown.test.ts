import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { after, before, describe, it } from 'node:test'
import { TestClient, until } from '@session-gateway/test-kit'
import { deleteQueues, unique } from './helpers/broker.js'
import { BROKER_URL, FakeUserManager } from './helpers/fake-user-manager.js'
import { startGateway } from './helpers/gateway.js'

const mainJs = new URL('../dist/main.js', import.meta.url).pathname

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  return port
}

describe('graceful shutdown on SIGTERM (the built entry point, real broker)', () => {
  const umQueue = unique('test-um')
  const nodeId = unique('test-node')
  let um: FakeUserManager
  let child: ChildProcess
  let port: number

  before(async () => {
    um = await FakeUserManager.start(`/queue/${umQueue}`)
    port = await freePort()
    child = spawn(process.execPath, [mainJs], {
      env: {
        ...process.env,
        AMQP_URL: BROKER_URL,
        UM_ADDRESS: `/queue/${umQueue}`,
        BROADCAST_ADDRESS: `/topic/${unique('bc')}`,
        GATEWAY_NODE_ID: nodeId,
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_PORT: String(port),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
    await until(
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200,
      { timeoutMs: 15_000, what: 'gateway ready' },
    )
  })
  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL')
    await um.close()
    await deleteQueues([umQueue, `gateway.node.${nodeId}`, um.replyQueue])
  })

  it('closes every session with 1001, reports each CLIENT_DISCONNECTED to the broker, and exits 0', async () => {
    const clients = await Promise.all([1, 2, 3].map(() => TestClient.open(`ws://127.0.0.1:${port}/ws`)))
    const sids = await Promise.all(clients.map((c) => c.sid()))
    const exited = once(child, 'exit')
    child.kill('SIGTERM')
    for (const c of clients) assert.equal((await c.waitClosed(10_000)).code, 1001)
    const [code, signal] = (await exited) as [number | null, string | null]
    assert.equal(signal, null)
    assert.equal(code, 0)
    for (const sid of sids) {
      const gone = await um.waitFor((m) => m.body.type === 'CLIENT_DISCONNECTED' && m.body.sid === sid)
      assert.ok(gone.body.type === 'CLIENT_DISCONNECTED' && gone.body.code === 1001)
    }
    // New connections are refused once it is gone.
    await assert.rejects(TestClient.open(`ws://127.0.0.1:${port}/ws`))
  })
})

describe('shutdown while the broker is away (nothing listens at AMQP_URL)', () => {
  it('does not wait for a pending CLIENT_CONNECTED, and sends no CLIENT_DISCONNECTED for a session the broker never took', async () => {
    const gw = await startGateway({
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:1',
      GATEWAY_NODE_ID: unique('away-node'),
      AMQP_OUTBOX_LIMIT: '1',
      AMQP_SEND_TIMEOUT_MS: '5000',
    })
    const backend = () => gw.gateway.backend.stats()
    // The first session's CLIENT_CONNECTED waits for the broker and fills the outbox (bound 1).
    const waiting = await TestClient.open(gw.wsUrl)
    await until(() => backend().outboxDepth === 1, { timeoutMs: 2000, what: 'CLIENT_CONNECTED waiting' })
    // The second one's is refused at once: closed 1013, and the UM is told nothing of it.
    const refused = await TestClient.open(gw.wsUrl)
    assert.equal((await refused.waitClosed()).code, 1013)

    // Shutdown: the first session's CLIENT_DISCONNECTED is queued at once (behind its CLIENT_CONNECTED),
    // not after its CLIENT_CONNECTED times out: the shutdown waits one send timeout, not two.
    const closing = gw.gateway.close()
    await until(() => backend().outboxDepth === 2, {
      timeoutMs: 2500,
      what: 'CLIENT_DISCONNECTED queued at the start of the shutdown',
    })
    assert.equal((await waiting.waitClosed()).code, 1001)
    await closing
    // Sent: CLIENT_CONNECTED and CLIENT_DISCONNECTED of the first session; nothing for the refused one.
    assert.equal(backend().sent, 2)
  })
})

describe('shutdown when the log reader is gone (stdout a broken pipe)', () => {
  it('still exits 0 on SIGTERM: a dead log pipe never hangs the process', { timeout: 30_000 }, async () => {
    const port = await freePort()
    const child = spawn(process.execPath, [mainJs], {
      env: { ...process.env, GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: String(port), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    try {
      const stdout = child.stdout
      assert.ok(stdout)
      // Read until the node says it is ready, then close the pipe as a crashed log collector would.
      let seen = ''
      await new Promise<void>((resolve) => {
        stdout.on('data', (chunk: Buffer) => {
          seen += chunk.toString()
          if (seen.includes('gateway ready')) resolve()
        })
      })
      // Nothing is logged until the signal: the shutdown's own lines are the first to meet the dead
      // pipe, while the process is about to exit (where a logger's last flush could spin forever).
      stdout.destroy()
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const [code, signal] = (await exited) as [number | null, string | null]
      assert.deepEqual({ code, signal }, { code: 0, signal: null })
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })
})
