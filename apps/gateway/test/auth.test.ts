import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { UmMessage } from '@session-gateway/message-schema'
import { TestClient } from '@session-gateway/test-kit'
import type { FastifyRequest } from 'fastify'
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose'
import { createJwtAuthenticator } from '../src/auth/jwt-authenticator.js'
import { redactUrl } from '../src/http/log-serializers.js'
import { type StartedGateway, startGateway } from './helpers/gateway.js'

const SECRET = 'a-test-secret-that-is-long-enough-0123456789'
const key = new TextEncoder().encode(SECRET)

function token(
  claims: Record<string, unknown> = {},
  options: { exp?: string | number | null; aud?: string; iss?: string; secret?: Uint8Array } = {},
) {
  const jwt = new SignJWT({ sub: 'user-1', role: 'member', ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setAudience(options.aud ?? 'gateway')
    .setIssuer(options.iss ?? 'https://auth.example.com')
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? '5m')
  return jwt.sign(options.secret ?? key)
}

async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  try {
    const client = await TestClient.open(url, { headers })
    await client.close()
    return 101
  } catch (err) {
    return (err as { status?: number }).status ?? -1
  }
}

describe('JWT authentication (HS256) before the upgrade', () => {
  let gw: StartedGateway
  const connected: UmMessage[] = []
  before(async () => {
    gw = await startGateway({
      AUTH_JWT_SECRET: SECRET,
      AUTH_JWT_AUDIENCE: 'gateway',
      AUTH_JWT_ISSUER: 'https://auth.example.com',
    })
    gw.gateway.embedded?.onUserManagerMessage((m) => {
      if (m.type === 'CLIENT_CONNECTED') connected.push(m)
    })
  })
  after(() => gw.gateway.close())

  it('a valid token opens a session, and its verified claims reach the UM in CLIENT_CONNECTED.meta.user', async () => {
    const client = await TestClient.open(gw.wsUrl, {
      headers: { authorization: `Bearer ${await token({ name: 'Ada' })}` },
    })
    const sid = await client.sid()
    const deadline = Date.now() + 5000
    while (!connected.some((m) => 'sid' in m && m.sid === sid) && Date.now() < deadline)
      await new Promise((r) => setImmediate(r))
    const message = connected.find((m) => 'sid' in m && m.sid === sid)
    assert.ok(message && message.type === 'CLIENT_CONNECTED')
    assert.equal(message.meta.user?.sub, 'user-1')
    assert.equal(message.meta.user?.name, 'Ada')
    assert.equal(message.meta.user?.aud, 'gateway')
    await client.close()
  })

  it('a token in the access_token query parameter works too (browsers cannot set headers)', async () => {
    assert.equal(await status(`${gw.wsUrl}?access_token=${await token()}`), 101)
  })

  it('missing, expired, wrong-signature, wrong-audience, wrong-issuer and unsigned tokens get 401 before any upgrade', async () => {
    const unsigned = new UnsecuredJWT({ sub: 'x' })
      .setAudience('gateway')
      .setIssuer('https://auth.example.com')
      .encode()
    const bad = {
      missing: {},
      'not a JWT': { authorization: 'Bearer not-a-jwt' },
      expired: { authorization: `Bearer ${await token({}, { exp: Math.floor(Date.now() / 1000) - 60 })}` },
      'no expiry': { authorization: `Bearer ${await token({}, { exp: null })}` },
      'wrong signature': {
        authorization: `Bearer ${await token({}, { secret: new TextEncoder().encode('another-secret-another-secret-123') })}`,
      },
      'wrong audience': { authorization: `Bearer ${await token({}, { aud: 'someone-else' })}` },
      'wrong issuer': { authorization: `Bearer ${await token({}, { iss: 'https://evil.example.com' })}` },
      'alg none': { authorization: `Bearer ${unsigned}` },
    }
    for (const [what, headers] of Object.entries(bad)) {
      assert.equal(await status(gw.wsUrl, headers), 401, what)
    }
    assert.equal(gw.gateway.app.wsSessions.size, 0)
    assert.ok((gw.gateway.app.wsSessions.stats.rejectedUpgrades.UNAUTHORIZED ?? 0) >= 8)
  })

  it('the error of a refused token (which the sessions plugin logs) says why, never whose: no claims in it', async () => {
    const authenticate = createJwtAuthenticator({ secret: SECRET, audience: 'gateway' })
    const expired = await token({ email: 'someone@example.com' }, { exp: Math.floor(Date.now() / 1000) - 60 })
    const request = {
      headers: { authorization: `Bearer ${expired}` },
      query: {},
    } as unknown as FastifyRequest
    const error = await authenticate(request).then(
      () => assert.fail('an expired token must be refused'),
      (err: unknown) => err as Error & Record<string, unknown>,
    )
    assert.match(error.message, /^token refused: ERR_JWT_EXPIRED: /)
    assert.doesNotMatch(JSON.stringify({ ...error, message: error.message }), /someone@example\.com|user-1/)
    assert.equal(error.payload, undefined)
  })
})

describe('JWT authentication with a JWKS file (ES256)', () => {
  it('accepts a token signed by a key of the set, refuses one signed by another key', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256')
    const other = await generateKeyPair('ES256')
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
    const dir = mkdtempSync(join(tmpdir(), 'jwks-'))
    const file = join(dir, 'jwks.json')
    writeFileSync(file, JSON.stringify({ keys: [jwk] }))
    const gw = await startGateway({ AUTH_JWKS_FILE: file })
    try {
      const sign = (k: Parameters<SignJWT['sign']>[0]) =>
        new SignJWT({ sub: 'u2' })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setExpirationTime('5m')
          .sign(k)
      assert.equal(await status(gw.wsUrl, { authorization: `Bearer ${await sign(privateKey)}` }), 101)
      assert.equal(await status(gw.wsUrl, { authorization: `Bearer ${await sign(other.privateKey)}` }), 401)
    } finally {
      await gw.gateway.close()
    }
  })

  it('a JWKS file that cannot be read stops the start with a message naming the variable', async () => {
    await assert.rejects(
      startGateway({ AUTH_JWKS_FILE: '/nonexistent/jwks.json' }),
      /AUTH_JWKS_FILE: cannot read/,
    )
  })
})

describe('origin allow-list, session cap, and token redaction', () => {
  it('a refused origin gets 403, an allowed one connects', async () => {
    const gw = await startGateway({ GATEWAY_ALLOWED_ORIGINS: 'https://app.example.com' })
    try {
      assert.equal(await status(gw.wsUrl, { origin: 'https://evil.example.com' }), 403)
      assert.equal(await status(gw.wsUrl, {}), 403)
      assert.equal(await status(gw.wsUrl, { origin: 'https://app.example.com' }), 101)
    } finally {
      await gw.gateway.close()
    }
  })
  it('past SESSION_MAX the upgrade gets 503', async () => {
    const gw = await startGateway({ SESSION_MAX: '2' })
    try {
      const a = await TestClient.open(gw.wsUrl)
      const b = await TestClient.open(gw.wsUrl)
      assert.equal(await status(gw.wsUrl), 503)
      await Promise.all([a.close(), b.close()])
    } finally {
      await gw.gateway.close()
    }
  })
  it('tokens in URLs never reach a log line', () => {
    assert.equal(redactUrl('/ws?access_token=abc.def.ghi&x=1'), '/ws?access_token=[redacted]&x=1')
    assert.equal(redactUrl('/v1/sessions?token=secret'), '/v1/sessions?token=[redacted]')
    // Percent-encoded keys are what the query parser decodes to access_token: redacted as well.
    assert.equal(redactUrl('/ws?access%5Ftoken=eyJ.s.1&x=1'), '/ws?access%5Ftoken=[redacted]&x=1')
    assert.equal(redactUrl('/ws?x=1&%61ccess_token=eyJ.s.2'), '/ws?x=1&%61ccess_token=[redacted]')
    assert.equal(
      redactUrl('/ws?ACCESS_TOKEN=a&access_token=b'),
      '/ws?ACCESS_TOKEN=[redacted]&access_token=[redacted]',
    )
    assert.equal(redactUrl('/ws?%zz=keep&q=access_token'), '/ws?%zz=keep&q=access_token')
  })
})

describe('per-client limits: SESSION_MAX_PER_CLIENT, SESSION_CONNECT_RATE_PER_SEC / SESSION_CONNECT_BURST, GATEWAY_TRUST_PROXY', () => {
  const bearer = async (sub: string) => ({ authorization: `Bearer ${await token({ sub })}` })

  it('past SESSION_MAX_PER_CLIENT sessions of one user the upgrade gets 429; other users of the same address connect; the refusal is in /metrics', async () => {
    const gw = await startGateway({
      AUTH_JWT_SECRET: SECRET,
      AUTH_JWT_AUDIENCE: 'gateway',
      AUTH_JWT_ISSUER: 'https://auth.example.com',
      SESSION_MAX_PER_CLIENT: '2',
    })
    const sessions = gw.gateway.app.wsSessions
    try {
      const a = await TestClient.open(gw.wsUrl, { headers: await bearer('user-1') })
      const b = await TestClient.open(gw.wsUrl, { headers: await bearer('user-1') })
      assert.equal(await status(gw.wsUrl, await bearer('user-1')), 429)
      const c = await TestClient.open(gw.wsUrl, { headers: await bearer('user-2') })
      assert.equal(sessions.sessionsOfClient('user:user-1'), 2)
      assert.equal(sessions.sessionsOfClient('user:user-2'), 1)
      assert.equal(sessions.stats.rejectedUpgrades.TOO_MANY_CLIENT_SESSIONS, 1)
      // The two sessions of user-1 live on.
      assert.equal(typeof (await a.sid()), 'string')
      assert.equal(typeof (await b.sid()), 'string')
      const text = await (await fetch(`${gw.httpUrl}/metrics`)).text()
      assert.match(
        text,
        /^gateway_rejected_upgrades_total\{[^}]*reason="TOO_MANY_CLIENT_SESSIONS"[^}]*\} 1$/m,
      )
      assert.match(text, /^gateway_client_keys\{[^}]*\} 2$/m)
      await Promise.all([a.close(), b.close(), c.close()])
      const deadline = Date.now() + 5000
      while (sessions.clientKeys > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
      assert.equal(sessions.clientKeys, 0)
    } finally {
      await gw.gateway.close()
    }
  })

  it('past SESSION_CONNECT_BURST new sessions of one address the upgrade gets 429 until the bucket refills', async (t) => {
    // The buckets read performance.now(): a mocked clock keeps the burst spent however long the
    // upgrades take on a loaded machine (at 5/s a real 200 ms gives a token back).
    let clock = performance.now()
    t.mock.method(performance, 'now', () => clock)
    const gw = await startGateway({ SESSION_CONNECT_RATE_PER_SEC: '5', SESSION_CONNECT_BURST: '2' })
    try {
      const a = await TestClient.open(gw.wsUrl)
      const b = await TestClient.open(gw.wsUrl)
      assert.equal(await status(gw.wsUrl), 429)
      assert.equal(gw.gateway.app.wsSessions.stats.rejectedUpgrades.CONNECT_RATE_LIMITED, 1)
      await Promise.all([a.close(), b.close()])
      assert.equal(await status(gw.wsUrl), 429, 'closing sessions gives no token back')
      clock += 199
      assert.equal(await status(gw.wsUrl), 429, 'just short of a token (200 ms at 5/s)')
      clock += 1
      assert.equal(await status(gw.wsUrl), 101, 'a token came back')
      assert.equal(await status(gw.wsUrl), 429, 'only one')
    } finally {
      await gw.gateway.close()
    }
  })

  it("GATEWAY_TRUST_PROXY: a trusted proxy's X-Forwarded-For is the client's address; without it the header is ignored", async () => {
    const trusting = await startGateway({ SESSION_MAX_PER_CLIENT: '1', GATEWAY_TRUST_PROXY: '127.0.0.1' })
    const plain = await startGateway({ SESSION_MAX_PER_CLIENT: '1' })
    const from = (ip: string) => ({ 'x-forwarded-for': ip })
    try {
      const a = await TestClient.open(trusting.wsUrl, { headers: from('203.0.113.1') })
      const b = await TestClient.open(trusting.wsUrl, { headers: from('203.0.113.2') })
      assert.equal(await status(trusting.wsUrl, from('203.0.113.1')), 429)
      assert.equal(trusting.gateway.app.wsSessions.sessionsOfClient('ip:203.0.113.2'), 1)

      const c = await TestClient.open(plain.wsUrl, { headers: from('203.0.113.1') })
      assert.equal(await status(plain.wsUrl, from('203.0.113.2')), 429, 'a spoofed header changes nothing')
      assert.equal(plain.gateway.app.wsSessions.sessionsOfClient('ip:127.0.0.1'), 1)
      await Promise.all([a.close(), b.close(), c.close()])
    } finally {
      await Promise.all([trusting.gateway.close(), plain.gateway.close()])
    }
  })
})
