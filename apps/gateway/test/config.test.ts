import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { ConfigError, helpText, loadConfig } from '../src/config/load-config.js'
import { VARIABLES } from '../src/config/variables.js'

const run = promisify(execFile)
const mainJs = new URL('../dist/main.js', import.meta.url).pathname

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (err) {
    assert.ok(err instanceof ConfigError)
    return err.problems
  }
  assert.fail('expected a ConfigError')
}

describe('configuration', () => {
  it('has working defaults: embedded mode on 0.0.0.0:8080, /ws, a random node id', () => {
    const a = loadConfig({})
    const b = loadConfig({})
    assert.equal(a.http.port, 8080)
    assert.equal(a.http.host, '0.0.0.0')
    assert.equal(a.sessions.path, '/ws')
    assert.equal(a.bridge.url, undefined)
    assert.equal(a.http.apiPort, undefined)
    assert.equal(a.sessions.maxPayload, 1_048_576)
    assert.match(a.node.id, /^node-[0-9a-f]{12}$/)
    assert.notEqual(a.node.id, b.node.id)
  })
  it('reads every fixed variable name of the issue', () => {
    const c = loadConfig({
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: '9000',
      GATEWAY_API_HOST: '10.0.0.5',
      GATEWAY_API_PORT: '9001',
      GATEWAY_NODE_ID: 'node-a',
      AMQP_URL: 'amqp://u:p@broker:5672',
      AMQP_PROFILE: 'generic',
      UM_ADDRESS: 'um',
      BROADCAST_ADDRESS: 'bc',
      NODE_ADDRESS: 'nodes/a',
      GATEWAY_ADMIN_TOKEN: 'a-long-enough-token',
      GATEWAY_ALLOWED_ORIGINS: 'https://a.example.com, http://localhost:3000',
      LOG_LEVEL: 'warn',
      SESSION_MAX: '5',
      SESSION_HEARTBEAT_MS: '0',
      GATEWAY_DEMO_PAGE: 'false',
    })
    assert.deepEqual(
      [
        c.http.host,
        c.http.port,
        c.http.apiHost,
        c.http.apiPort,
        c.node.id,
        c.bridge.url,
        c.bridge.profile,
        c.bridge.userManagerAddress,
        c.bridge.broadcastAddress,
      ],
      ['127.0.0.1', 9000, '10.0.0.5', 9001, 'node-a', ['amqp://u:p@broker:5672'], 'generic', 'um', 'bc'],
    )
    assert.deepEqual(c.sessions.allowedOrigins, ['https://a.example.com', 'http://localhost:3000'])
    assert.equal(c.http.adminToken, 'a-long-enough-token')
    assert.equal(c.node.logLevel, 'warn')
    assert.equal(c.sessions.maxSessions, 5)
    assert.equal(c.sessions.heartbeatIntervalMs, 0)
    assert.equal(c.http.demoPage, false)
  })
  it('an empty variable counts as unset', () => {
    assert.equal(loadConfig({ AMQP_URL: '', GATEWAY_PORT: '' }).http.port, 8080)
  })
  it('names each bad variable with what it must be, all at once', () => {
    const problems = problemsOf({
      GATEWAY_PORT: '80a',
      SESSION_MAX: '0',
      AMQP_URL: 'http://broker',
      AMQP_PROFILE: 'kafka',
      GATEWAY_ADMIN_TOKEN: 'short',
      GATEWAY_ALLOWED_ORIGINS: 'example.com',
      LOG_LEVEL: 'loud',
      GATEWAY_NODE_ID: 'has space',
      GATEWAY_DEMO_PAGE: 'maybe',
    })
    const joined = problems.join('\n')
    for (const pattern of [
      /GATEWAY_PORT="80a": must be an integer from 0 to 65535/,
      /SESSION_MAX="0": must be an integer from 1/,
      /AMQP_URL="http:\/\/broker": must be an amqp:\/\/ or amqps:\/\/ URL with credentials/,
      /AMQP_PROFILE="kafka": must be one of rabbitmq, generic/,
      /GATEWAY_ADMIN_TOKEN="\(hidden\)": must be text of at least 16 characters/,
      /GATEWAY_ALLOWED_ORIGINS="example.com"/,
      /LOG_LEVEL="loud": must be one of fatal, error/,
      /GATEWAY_NODE_ID="has space"/,
      /GATEWAY_DEMO_PAGE="maybe": must be true or false/,
    ]) {
      assert.match(joined, pattern)
    }
    assert.equal(problems.length, 9)
  })
  it('JWT settings: a short secret, both key sources, or an audience without a key are refused', () => {
    assert.match(
      problemsOf({ AUTH_JWT_SECRET: 'short' }).join(),
      /AUTH_JWT_SECRET="\(hidden\)": must be text of at least 32/,
    )
    assert.match(
      problemsOf({ AUTH_JWT_SECRET: 'x'.repeat(32), AUTH_JWKS_FILE: '/k.json' }).join(),
      /set one of them, not both/,
    )
    assert.match(
      problemsOf({ AUTH_JWT_AUDIENCE: 'gateway' }).join(),
      /need AUTH_JWT_SECRET or AUTH_JWKS_FILE/,
    )
  })
  it('per-client limits: off by default; GATEWAY_TRUST_PROXY takes true, false or addresses/CIDRs, never a hop count', () => {
    const d = loadConfig({})
    assert.deepEqual(
      [
        d.sessions.maxSessionsPerClient,
        d.sessions.connectRatePerSec,
        d.sessions.connectBurst,
        d.http.trustProxy,
      ],
      [0, 0, 10, false],
    )
    const c = loadConfig({
      SESSION_MAX_PER_CLIENT: '20',
      SESSION_CONNECT_RATE_PER_SEC: '2',
      SESSION_CONNECT_BURST: '5',
      GATEWAY_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1, fd00::/8, 192.168.1.0/255.255.255.0, loopback',
    })
    assert.deepEqual(
      [c.sessions.maxSessionsPerClient, c.sessions.connectRatePerSec, c.sessions.connectBurst],
      [20, 2, 5],
    )
    assert.deepEqual(c.http.trustProxy, [
      '10.0.0.0/8',
      '127.0.0.1',
      '::1',
      'fd00::/8',
      '192.168.1.0/255.255.255.0',
      'loopback',
    ])
    assert.equal(loadConfig({ GATEWAY_TRUST_PROXY: 'TRUE' }).http.trustProxy, true)
    assert.equal(loadConfig({ GATEWAY_TRUST_PROXY: 'false' }).http.trustProxy, false)
    assert.match(
      problemsOf({ GATEWAY_TRUST_PROXY: '1' }).join(),
      /GATEWAY_TRUST_PROXY="1": a hop count is not accepted/,
    )
    assert.match(
      problemsOf({ GATEWAY_TRUST_PROXY: '10.0.0.1, proxy.internal, 10.0.0.0/33' }).join(),
      /GATEWAY_TRUST_PROXY: "proxy.internal", "10.0.0.0\/33" are not an IP address, CIDR/,
    )
    assert.match(
      problemsOf({ GATEWAY_TRUST_PROXY: ' , ' }).join(),
      /GATEWAY_TRUST_PROXY=" , ": must be true, false, or a comma-separated list of addresses\/CIDRs/,
    )
    assert.match(
      problemsOf({ SESSION_MAX_PER_CLIENT: '-1', SESSION_CONNECT_BURST: '0' }).join('\n'),
      /SESSION_MAX_PER_CLIENT="-1": must be an integer from 0[\s\S]*SESSION_CONNECT_BURST="0": must be an integer from 1/,
    )
  })
  it('secrets are never echoed: the URL password is masked, tokens hidden', () => {
    const problems = problemsOf({
      AMQP_URL: 'amqps://gw:s3cret-pw@',
      GATEWAY_ADMIN_TOKEN: 'tooshort-secret',
    })
    assert.equal(problems.length, 2)
    assert.match(problems.join(), /AMQP_URL="amqps:\/\/gw:\*\*\*@": must be an amqp:\/\/ or amqps:\/\/ URL/)
    assert.doesNotMatch(problems.join(), /s3cret-pw|tooshort-secret/)
  })
  it('values the plugins would refuse are refused here, naming the variable (exit 2, not a crash)', () => {
    const joined = problemsOf({
      AMQP_URL: 'amqp://broker:5672',
      AMQP_CREDIT: '1001',
      AMQP_OUTBOX_LIMIT: '10000001',
      AMQP_SEND_TIMEOUT_MS: '86400001',
      SESSION_HEARTBEAT_MS: '2147483648',
      GATEWAY_SHUTDOWN_TIMEOUT_MS: '2147483648',
      GATEWAY_LIFECYCLE_COALESCE_MS: '101',
    }).join('\n')
    for (const pattern of [
      /AMQP_URL="amqp:\/\/broker:5672": must be an amqp:\/\/ or amqps:\/\/ URL with credentials: amqp:\/\/user:password@host/,
      /AMQP_CREDIT="1001": must be an integer from 1 to 1000/,
      /AMQP_OUTBOX_LIMIT="10000001": must be an integer from 1 to 10000000/,
      /AMQP_SEND_TIMEOUT_MS="86400001": must be an integer from 1 to 86400000/,
      /SESSION_HEARTBEAT_MS="2147483648": must be an integer from 0 to 2147483647/,
      /GATEWAY_SHUTDOWN_TIMEOUT_MS="2147483648": must be an integer from 1 to 2147483647/,
      // The bridge's coalesceMs is 1-100: a longer hold would be refused on the first connect of a burst.
      /GATEWAY_LIFECYCLE_COALESCE_MS="101": must be an integer from 0 to 100/,
    ]) {
      assert.match(joined, pattern)
    }
  })
  it('a shutdown timeout too short for the send timeout is refused (with a broker)', () => {
    assert.match(
      problemsOf({ AMQP_URL: 'amqp://u:p@broker', AMQP_SEND_TIMEOUT_MS: '30000' }).join(),
      /GATEWAY_SHUTDOWN_TIMEOUT_MS=15000 must be at least AMQP_SEND_TIMEOUT_MS \+ 5000 \(35000\)/,
    )
    const c = loadConfig({
      AMQP_URL: 'amqp://u:p@broker',
      AMQP_SEND_TIMEOUT_MS: '30000',
      GATEWAY_SHUTDOWN_TIMEOUT_MS: '35000',
    })
    assert.equal(c.node.shutdownTimeoutMs, 35_000)
    assert.equal(loadConfig({ GATEWAY_SHUTDOWN_TIMEOUT_MS: '1000' }).node.shutdownTimeoutMs, 1000) // embedded: no send timeout
  })
  it('AMQP_PROFILE=generic needs the addresses it cannot derive', () => {
    assert.match(
      problemsOf({ AMQP_URL: 'amqp://u:p@broker', AMQP_PROFILE: 'generic', UM_ADDRESS: 'um' }).join(),
      /AMQP_PROFILE=generic uses the addresses exactly as given: set NODE_ADDRESS, BROADCAST_ADDRESS/,
    )
    const c = loadConfig({
      AMQP_URL: 'amqp://u:p@broker',
      AMQP_PROFILE: 'generic',
      UM_ADDRESS: 'um',
      NODE_ADDRESS: 'nodes/a',
      BROADCAST_ADDRESS: 'bc',
    })
    assert.equal(c.bridge.profile, 'generic')
  })
  it('resume: off by default; with a broker it needs GATEWAY_RESUME_SECRET (never echoed); embedded mode does not', () => {
    const off = loadConfig({ AMQP_URL: 'amqp://u:p@broker' })
    assert.equal(off.resume.windowMs, 0)
    assert.equal(off.resume.secret, undefined)
    assert.match(
      problemsOf({ AMQP_URL: 'amqp://u:p@broker', SESSION_RESUME_WINDOW_MS: '30000' }).join(),
      /GATEWAY_RESUME_SECRET is required with AMQP_URL when SESSION_RESUME_WINDOW_MS > 0/,
    )
    const short = problemsOf({ GATEWAY_RESUME_SECRET: 'short-resume-secret' }).join()
    assert.match(short, /GATEWAY_RESUME_SECRET="\(hidden\)": must be text of at least 32 characters/)
    assert.doesNotMatch(short, /short-resume-secret/)
    const on = loadConfig({
      AMQP_URL: 'amqp://u:p@broker',
      SESSION_RESUME_WINDOW_MS: '30000',
      GATEWAY_RESUME_SECRET: 'x'.repeat(32),
    })
    assert.deepEqual(
      [on.resume.windowMs, on.resume.maxReplayFrames, on.resume.maxReplayBytes, on.resume.maxNodeReplayBytes],
      [30_000, 1000, 1_048_576, 134_217_728],
    )
    assert.equal(loadConfig({ SESSION_RESUME_WINDOW_MS: '30000' }).resume.secret, undefined) // embedded: random
    assert.match(
      problemsOf({ SESSION_REPLAY_MAX_BYTES: '2000', NODE_REPLAY_MAX_BYTES: '1000' }).join(),
      /NODE_REPLAY_MAX_BYTES=1000 must be at least SESSION_REPLAY_MAX_BYTES \(2000\)/,
    )
  })
  it('AMQP_URL takes the nodes of a cluster, comma-separated, in order; one vhost for all; passwords masked', () => {
    const c = loadConfig({ AMQP_URL: 'amqp://u:p@n1:5672/gw, amqp://u:p@n2:5673/gw,amqp://v:q@n3/gw' })
    assert.deepEqual(c.bridge.url, ['amqp://u:p@n1:5672/gw', 'amqp://u:p@n2:5673/gw', 'amqp://v:q@n3/gw'])
    assert.deepEqual(problemsOf({ AMQP_URL: 'amqp://u:p@n1/a,amqp://u:p@n2/b' }), [
      'AMQP_URL: every URL must name the same vhost (they are the nodes of one cluster)',
    ])
    const [bad] = problemsOf({ AMQP_URL: 'amqp://u:secret1@n1,amqp://n2,amqp://u:secret2@n3' })
    assert.match(
      bad ?? '',
      /^AMQP_URL="amqp:\/\/u:\*\*\*@n1,amqp:\/\/n2,amqp:\/\/u:\*\*\*@n3": must be an amqp/,
    )
    assert.doesNotMatch(bad ?? '', /secret/)
  })
  it('UM_QUEUE_TYPE: quorum or classic, for a RabbitMQ queue address only', () => {
    const url = 'amqp://u:p@n1/gw'
    assert.equal(loadConfig({ AMQP_URL: url, UM_QUEUE_TYPE: 'quorum' }).umQueue.type, 'quorum')
    assert.equal(
      loadConfig({ AMQP_URL: url, UM_QUEUE_TYPE: 'classic', UM_ADDRESS: '/amq/queue/um' }).umQueue.type,
      'classic',
    )
    assert.deepEqual(problemsOf({ AMQP_URL: url, UM_QUEUE_TYPE: 'stream' }), [
      'UM_QUEUE_TYPE="stream": must be one of quorum, classic',
    ])
    assert.deepEqual(problemsOf({ UM_QUEUE_TYPE: 'quorum' }), [
      'UM_QUEUE_TYPE needs AMQP_URL and AMQP_PROFILE=rabbitmq (it is a RabbitMQ queue type)',
    ])
    assert.deepEqual(problemsOf({ AMQP_URL: url, UM_QUEUE_TYPE: 'quorum', UM_ADDRESS: '/exchange/um/x' }), [
      'UM_QUEUE_TYPE needs a UM_ADDRESS that names a queue (/queue/NAME, /amq/queue/NAME or NAME), not "/exchange/um/x"',
    ])
  })
  it('a port out of range is refused', () => {
    assert.match(problemsOf({ GATEWAY_API_PORT: '70000' }).join(), /GATEWAY_API_PORT="70000"/)
  })
  it('--help prints every variable with its default', () => {
    const text = helpText()
    for (const v of VARIABLES) {
      assert.ok(text.includes(v.name), v.name)
    }
    assert.match(text, /GATEWAY_PORT[\s\S]*default: 8080/)
    assert.match(text, /AMQP_URL[\s\S]*default: \(unset\)/)
    // One default each; the shutdown rule is the one enforced; no path of the build machine.
    const nodeId = text.split('\n').filter((line) => /default/i.test(line) && line.includes('node-'))
    assert.equal(nodeId.length, 1)
    assert.match(nodeId[0] ?? '', /^\s+default: node-<12 random hex digits>, new at every start$/)
    assert.match(text, /GATEWAY_SHUTDOWN_TIMEOUT_MS .*AMQP_SEND_TIMEOUT_MS \+ 5000/)
    assert.doesNotMatch(text, /apps\/gateway|\/work\//)
  })
  it('GATEWAY_QUEUE_PREFIX must be a queue name start the gateway can own', () => {
    assert.equal(loadConfig({}).bridge.queuePrefix, 'gateway.')
    assert.equal(loadConfig({ GATEWAY_QUEUE_PREFIX: 'chat-gw.' }).bridge.queuePrefix, 'chat-gw.')
    for (const bad of ['amq.gw.', 'has space', 'x'.repeat(65)]) {
      assert.match(
        problemsOf({ GATEWAY_QUEUE_PREFIX: bad }).join(),
        /GATEWAY_QUEUE_PREFIX=.*: must be 1-64 characters of \[A-Za-z0-9_.-\], not starting with amq\./,
      )
    }
  })
  it('rabbitmq: NODE_ADDRESS without NODE_REPLY_TO is refused where no reply address can be derived from it', () => {
    const amqp = { AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672' }
    for (const nodeAddress of ['/topic/gw.a', '/exchange/amq.direct/a']) {
      const problems = problemsOf({ ...amqp, NODE_ADDRESS: nodeAddress }).join()
      assert.match(
        problems,
        /NODE_ADDRESS=".*" without NODE_REPLY_TO: the broker names the queue behind this address/,
      )
      assert.match(problems, /set NODE_REPLY_TO, or give NODE_ADDRESS as \/queue\/NAME/)
    }
    // Derivable: accepted (the bridge then uses /amq/queue/NAME), and so is any pair given in full.
    assert.equal(loadConfig({ ...amqp, NODE_ADDRESS: '/queue/edge-1' }).bridge.nodeAddress, '/queue/edge-1')
    loadConfig({ ...amqp, NODE_ADDRESS: '/topic/gw.a', NODE_REPLY_TO: '/topic/gw.a' })
  })
  it("the README's configuration table lists every variable with its default", async () => {
    const { readFile } = await import('node:fs/promises')
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8')
    for (const v of VARIABLES) {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${v.name}\` |`))
      assert.ok(row, `README lacks a row for ${v.name}`)
      if (v.default !== undefined)
        assert.ok(row.includes(`\`${v.default}\``), `README row of ${v.name} lacks its default ${v.default}`)
    }
  })
  it('the entry point exits 2 with a message naming the variable on bad configuration, and prints --help', async () => {
    await assert.rejects(
      run(process.execPath, [mainJs], { env: { ...process.env, GATEWAY_PORT: 'eighty' } }),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2)
        assert.match(err.stderr, /GATEWAY_PORT="eighty": must be an integer/)
        return true
      },
    )
    // A value only using it can check (the JWKS file) exits 2 as well.
    await assert.rejects(
      run(process.execPath, [mainJs], { env: { ...process.env, AUTH_JWKS_FILE: '/nonexistent/jwks.json' } }),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2)
        assert.match(err.stderr, /AUTH_JWKS_FILE: cannot read a JSON key set from \/nonexistent\/jwks.json/)
        return true
      },
    )
    const { stdout } = await run(process.execPath, [mainJs, '--help'])
    assert.match(stdout, /SESSION_MAX_PAYLOAD/)
  })
  it('the demo User Manager exits 2 on a bad AMQP_PROFILE (not taken as rabbitmq) and without AMQP_URL', async () => {
    const demoUm = new URL('../dist/demo/demo-um-main.js', import.meta.url).pathname
    await assert.rejects(
      run(process.execPath, [demoUm], {
        env: { ...process.env, AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672', AMQP_PROFILE: 'rabitmq' },
      }),
      (err: { code: number; stderr: string }) => {
        assert.equal(err.code, 2)
        assert.match(err.stderr, /AMQP_PROFILE="rabitmq": must be rabbitmq or generic/)
        return true
      },
    )
    await assert.rejects(
      run(process.execPath, [demoUm], { env: { ...process.env, AMQP_URL: '' } }),
      (err: { code: number; stderr: string }) => err.code === 2 && /set AMQP_URL/.test(err.stderr),
    )
  })
})
