import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { after, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { until } from '@session-gateway/test-kit'
import WebSocket from 'ws'
import { API_MAX_CONNECTIONS, FD_RESERVE } from '../src/config/connection-budget.js'
import { ConfigError, loadConfig } from '../src/config/load-config.js'
import { openFilesLimit } from '../src/connections/open-files-limit.js'
import { type StartedGateway, startGateway } from './helpers/gateway.js'

const run = promisify(execFile)
const mainJs = new URL('../dist/main.js', import.meta.url).pathname

/** A raw TCP connection from `localAddress` that records what the server sends and when it closes. */
class RawConnection {
  readonly socket: Socket
  received = ''
  closed = false

  private constructor(port: number, localAddress: string) {
    this.socket = connect({ host: '127.0.0.1', port, localAddress })
    this.socket.on('data', (d) => {
      this.received += d.toString('latin1')
    })
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      this.closed = true
    })
  }

  static async open(port: number, localAddress = '127.0.0.1'): Promise<RawConnection> {
    const c = new RawConnection(port, localAddress)
    await once(c.socket, 'connect')
    return c
  }

  /** Resolves once the server has closed the connection. */
  async closedByServer(timeoutMs = 5000): Promise<void> {
    await until(() => this.closed, { timeoutMs: timeoutMs, what: 'the server to close the connection' })
  }

  /** A full keep-alive request, then waits for its response. */
  async get(path: string, headers = ''): Promise<string> {
    const before = this.received.length
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`)
    await until(() => /\r\n\r\n/.test(this.received.slice(before)) || this.closed, {
      timeoutMs: 5000,
      what: `the answer to ${path}`,
    })
    return this.received.slice(before)
  }

  reset(): void {
    if (!this.socket.destroyed) this.socket.resetAndDestroy()
  }
}

/** A refusal counter, read without a connection (the tests fill the listener's connection slots). */
async function metric(started: StartedGateway, reason: string): Promise<number> {
  const { body } = await started.gateway.app.inject({ url: '/metrics' })
  const line = body
    .split('\n')
    .find((l) => l.startsWith(`gateway_connections_refused_total{reason="${reason}"`))
  return Number(line?.split(' ').at(-1))
}

function portOf(started: StartedGateway): number {
  return Number(new URL(started.httpUrl).port)
}

async function openSession(url: string, localAddress: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { localAddress })
  await once(ws, 'open')
  return ws
}

describe('connection-level limits (in-process gateway, embedded mode)', () => {
  const connections: RawConnection[] = []
  const sockets: WebSocket[] = []
  after(() => {
    for (const c of connections) c.reset()
    for (const ws of sockets) ws.terminate()
  })
  const raw = async (port: number, from = '127.0.0.1') => {
    const c = await RawConnection.open(port, from)
    connections.push(c)
    return c
  }

  it('an address gets GATEWAY_MAX_PENDING_PER_ADDRESS connections without a complete request, the next is closed at once; a completed request frees its place', async (t) => {
    const started = await startGateway({ GATEWAY_MAX_PENDING_PER_ADDRESS: '3' })
    t.after(() => started.gateway.close())
    const port = portOf(started)
    const idle = [await raw(port), await raw(port), await raw(port)]
    const fourth = await raw(port)
    await fourth.closedByServer()
    assert.equal(fourth.received, '', 'refused without an answer')
    assert.equal(await metric(started, 'per_address'), 1)
    // Other addresses are not affected: a session from 127.0.0.2 opens and answers.
    const ws = await openSession(started.wsUrl, '127.0.0.2')
    sockets.push(ws)
    // One of the three completes a request: it no longer counts (idle keep-alive), a new one is let in.
    assert.match(await (idle[0] as RawConnection).get('/healthz'), /^HTTP\/1.1 200/)
    const fifth = await raw(port)
    assert.match(await fifth.get('/healthz'), /^HTTP\/1.1 200/)
    assert.equal(fifth.closed, false)
    assert.equal(await metric(started, 'per_address'), 1)
    for (const c of [...idle, fifth]) assert.equal(c.closed, false)
  })

  it('at GATEWAY_MAX_CONNECTIONS the oldest connection without a complete request is closed for a new one; sessions are never; past it Node drops new connections', async (t) => {
    const started = await startGateway({
      GATEWAY_MAX_CONNECTIONS: '4',
      SESSION_MAX: '4',
      GATEWAY_MAX_PENDING_PER_ADDRESS: '0',
    })
    t.after(() => started.gateway.close())
    const port = portOf(started)
    const a = await openSession(started.wsUrl, '127.0.0.1')
    const b = await openSession(started.wsUrl, '127.0.0.1')
    sockets.push(a, b)
    const oldest = await raw(port, '127.0.0.3')
    const newer = await raw(port, '127.0.0.4')
    // The 4th connection filled the node: the oldest pending one made room.
    await oldest.closedByServer()
    assert.equal(newer.closed, false)
    // A new session still gets in (the newer pending connection makes room for it).
    const c = await openSession(started.wsUrl, '127.0.0.1')
    sockets.push(c)
    await newer.closedByServer()
    assert.equal(await metric(started, 'max_connections_evicted'), 2)
    for (const ws of [a, b, c]) assert.equal(ws.readyState, WebSocket.OPEN)
    // Four sessions: nothing left to evict; the next connection is dropped by Node (maxConnections).
    const d = await openSession(started.wsUrl, '127.0.0.1')
    sockets.push(d)
    const dropped = await raw(port, '127.0.0.5')
    await dropped.closedByServer()
    for (const ws of [a, b, c, d]) assert.equal(ws.readyState, WebSocket.OPEN)
    await until(
      async () =>
        started.gateway.app.wsSessions.size === 4 && (await metric(started, 'max_connections')) >= 1,
      { timeoutMs: 5000, what: 'the drop counted' },
    )
  })

  it('a trusted proxy is not capped before its headers; after them, the X-Forwarded-For client is (429)', async (t) => {
    const started = await startGateway({
      GATEWAY_TRUST_PROXY: '127.0.0.1',
      GATEWAY_MAX_PENDING_PER_ADDRESS: '1',
      GATEWAY_ADMIN_TOKEN: 'connection-limits-admin-token',
    })
    t.after(() => started.gateway.close())
    const port = portOf(started)
    // Three idle connections from the proxy: none refused.
    const proxied = [await raw(port), await raw(port), await raw(port)]
    // One holds a request of client 203.0.113.7 whose body has not arrived.
    const [first, second] = proxied as [RawConnection, RawConnection]
    first.socket.write(
      'POST /v1/broadcast HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7\r\nAuthorization: Bearer connection-limits-admin-token\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
    )
    await until(() => started.gateway.connections.pendingOf('ip:203.0.113.7') === 1, {
      timeoutMs: 5000,
      what: 'the request counted under its client',
    })
    // The same client through the same proxy, on another connection: over its cap.
    const answer = await second.get('/healthz', 'X-Forwarded-For: 203.0.113.7\r\n')
    assert.match(answer, /^HTTP\/1.1 429/)
    assert.match(answer, /TOO_MANY_PENDING_CONNECTIONS/)
    // Another client through the proxy is fine.
    assert.match(
      await (proxied[2] as RawConnection).get('/healthz', 'X-Forwarded-For: 203.0.113.8\r\n'),
      /^HTTP\/1.1 200/,
    )
    assert.equal(first.closed, false)
  })

  it('a keep-alive connection idle for GATEWAY_KEEP_ALIVE_TIMEOUT_MS is closed and counted', async (t) => {
    const started = await startGateway({ GATEWAY_KEEP_ALIVE_TIMEOUT_MS: '200' })
    t.after(() => started.gateway.close())
    const c = await raw(portOf(started))
    assert.match(await c.get('/healthz'), /^HTTP\/1.1 200/)
    await c.closedByServer()
    assert.equal(await metric(started, 'idle_timeout'), 1)
  })

  it('SESSION_ADDRESS_CONNECT_RATE_*: past its budget an address is refused 429 before its JWT is looked at (a bad token gets 429, not 401)', async (t) => {
    // The buckets read performance.now(): a mocked clock keeps the burst spent however long the three
    // attempts take on a loaded machine (at 1/s a real second gives a token back: 401 for 429).
    const clock = performance.now()
    t.mock.method(performance, 'now', () => clock)
    const started = await startGateway({
      AUTH_JWT_SECRET: 'a-secret-of-at-least-thirty-two-characters',
      SESSION_ADDRESS_CONNECT_RATE_PER_SEC: '1',
      SESSION_ADDRESS_CONNECT_BURST: '2',
    })
    t.after(() => started.gateway.close())
    const statusOf = (url: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(url, { headers: { authorization: 'Bearer not.a.jwt' } })
        ws.on('unexpected-response', (_req, res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
          ws.terminate()
        })
        ws.on('open', () => reject(new Error('accepted')))
        ws.on('error', () => {})
      })
    assert.deepEqual(
      [await statusOf(started.wsUrl), await statusOf(started.wsUrl), await statusOf(started.wsUrl)],
      [401, 401, 429],
    )
    assert.equal(started.gateway.app.wsSessions.stats.rejectedUpgrades.ADDRESS_RATE_LIMITED, 1)
  })

  it('a graceful close does not wait for connections without a complete request (Node stops timing them out)', async () => {
    const started = await startGateway({
      GATEWAY_HEADERS_TIMEOUT_MS: '60000',
      GATEWAY_REQUEST_TIMEOUT_MS: '60000',
    })
    const port = portOf(started)
    const silent = await raw(port)
    const partial = await raw(port)
    partial.socket.write('GET /ws HTTP/1.1\r\nHost: x\r\n')
    const session = await openSession(started.wsUrl, '127.0.0.1')
    sockets.push(session)
    // Without the guard's preClose, close() waits for the two until the process is killed.
    await started.gateway.close()
    await silent.closedByServer()
    await partial.closedByServer()
  })
})

describe('connection caps and the open-file limit', () => {
  it('defaults: SESSION_MAX + 1000 connections when they fit; timeouts 10 s / 30 s / 5 s; 100 pending per address', () => {
    const c = loadConfig({}, { openFiles: 20_000 })
    assert.equal(c.http.maxConnections, 11_000)
    assert.deepEqual(c.warnings, [])
    assert.equal(c.http.headersTimeoutMs, 10_000)
    assert.equal(c.http.requestTimeoutMs, 30_000)
    assert.equal(c.http.keepAliveTimeoutMs, 5000)
    assert.equal(c.http.maxPendingPerAddress, 100)
    assert.equal(c.sessions.addressConnectRatePerSec, 0)
  })

  it('a default that does not fit is lowered, loudly; a value that was set and does not fit is refused', () => {
    const small = loadConfig({}, { openFiles: 5000 })
    assert.equal(small.http.maxConnections, 5000 - FD_RESERVE)
    assert.equal(small.warnings.length, 1)
    assert.match(small.warnings[0] ?? '', /open-file limit \(5000\) holds 4900 client connections/)
    assert.match(small.warnings[0] ?? '', /SESSION_MAX=10000 cannot be reached\); raise the limit/)
    // The API listener's connections come off the budget.
    const withApi = loadConfig({ GATEWAY_API_PORT: '9001' }, { openFiles: 5000 })
    assert.equal(withApi.http.maxConnections, 5000 - FD_RESERVE - API_MAX_CONNECTIONS)

    const problems = (env: Record<string, string>, openFiles: number) => {
      try {
        loadConfig(env, { openFiles })
      } catch (err) {
        assert.ok(err instanceof ConfigError)
        return err.problems
      }
      assert.fail('expected a ConfigError')
    }
    assert.match(
      problems({ SESSION_MAX: '8000' }, 5000)[0] ?? '',
      /^SESSION_MAX=8000 does not fit: this process's open-file limit \(5000\) holds 4900 client connections .*raise the limit/,
    )
    assert.match(
      problems({ GATEWAY_MAX_CONNECTIONS: '6000' }, 5000)[0] ?? '',
      /^GATEWAY_MAX_CONNECTIONS=6000 does not fit/,
    )
    assert.match(
      problems({ GATEWAY_MAX_CONNECTIONS: '2000', SESSION_MAX: '3000' }, 20_000)[0] ?? '',
      /GATEWAY_MAX_CONNECTIONS=2000 is below SESSION_MAX=3000/,
    )
    assert.match(
      problems({ GATEWAY_HEADERS_TIMEOUT_MS: '40000' }, 20_000)[0] ?? '',
      /GATEWAY_HEADERS_TIMEOUT_MS=40000 must not be above GATEWAY_REQUEST_TIMEOUT_MS=30000/,
    )
    // An explicit cap below SESSION_MAX's default is taken, with a warning.
    const lower = loadConfig({ GATEWAY_MAX_CONNECTIONS: '2000' }, { openFiles: 20_000 })
    assert.equal(lower.http.maxConnections, 2000)
    assert.match(lower.warnings[0] ?? '', /at most 2000 sessions/)
  })

  it('reads the real limit: the entry point refuses a SESSION_MAX that its ulimit cannot hold (exit 2)', async () => {
    const { stdout } = await run('sh', ['-c', 'ulimit -Sn'])
    assert.equal(openFilesLimit(), Number(stdout.trim()))
    await assert.rejects(
      run('sh', ['-c', `ulimit -n 3000 && exec "${process.execPath}" "${mainJs}"`], {
        env: { ...process.env, SESSION_MAX: '5000', GATEWAY_PORT: '0' },
      }),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2)
        assert.match(err.stderr, /SESSION_MAX=5000 does not fit: this process's open-file limit \(3000\)/)
        return true
      },
    )
  })
})
