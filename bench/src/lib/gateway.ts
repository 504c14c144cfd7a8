import { join } from 'node:path'
import { GatewayProcess } from './gateway-process.js'
import { freePort } from './ports.js'
import { type Child, startChild } from './procs.js'
import { AMQP_URL } from './rabbitmq.js'
import type { BenchSettings } from './types.js'

export const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef'

export interface RunningGateway {
  gateway: GatewayProcess
  um: Child
  wsUrl: string
  httpUrl: string
}

/** Marker in the name of every queue a scenario creates: they are deleted by it afterwards. */
export function queueMarker(settings: BenchSettings, scenario: string): string {
  return `bench-${settings.runId}-${scenario.toLowerCase()}`
}

/**
 * The gateway as the bench runs it: AMQP mode against the local RabbitMQ, unique queues for this
 * run, logs at warn (no line per session), rate limit set out of reach (the token bucket still runs
 * on every frame), room for 19,000 sessions, no auth, admin API on.
 */
export function gatewayEnv(settings: BenchSettings, scenario: string, port: number): Record<string, string> {
  const marker = queueMarker(settings, scenario)
  return {
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(port),
    GATEWAY_NODE_ID: marker,
    AMQP_URL,
    UM_ADDRESS: `/queue/${marker}-um`,
    BROADCAST_ADDRESS: `/queue/${marker}-broadcast`,
    NODE_ADDRESS: '',
    NODE_REPLY_TO: '',
    LOG_LEVEL: 'warn',
    SESSION_MAX: '20000',
    SESSION_RATE_PER_SEC: '1000000',
    SESSION_RATE_BURST: '1000000',
    GATEWAY_DEMO_PAGE: 'false',
    GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
    GATEWAY_API_PORT: '',
    GATEWAY_ALLOWED_ORIGINS: '',
    AUTH_JWT_SECRET: '',
    AUTH_JWKS_FILE: '',
    AUTH_JWT_AUDIENCE: '',
    AUTH_JWT_ISSUER: '',
  }
}

/**
 * Starts the echo User Manager on the scenario's UM queue, then the gateway (its production entry
 * point). With a profile directory set, the gateway runs with --cpu-prof and writes its profile there
 * when it exits.
 */
export async function startGateway(
  settings: BenchSettings,
  scenario: string,
  options: { execArgv?: string[]; env?: Record<string, string> } = {},
): Promise<RunningGateway> {
  const marker = queueMarker(settings, scenario)
  const { child: um } = await startChild('servers/echo-um.ts', {
    name: `${scenario}-echo-um`,
    env: { ECHO_UM_QUEUE: `${marker}-um` },
  })
  const profile = settings.profileDir
    ? ['--cpu-prof', `--cpu-prof-dir=${join(settings.profileDir, scenario)}`]
    : []
  try {
    const port = await freePort()
    const gateway = await GatewayProcess.start({
      name: `${scenario}-gateway`,
      port,
      env: { ...gatewayEnv(settings, scenario, port), ...options.env },
      adminToken: ADMIN_TOKEN,
      execArgv: [...profile, ...(options.execArgv ?? [])],
    })
    return { gateway, um, wsUrl: gateway.wsUrl, httpUrl: gateway.httpUrl }
  } catch (err) {
    um.kill()
    throw err
  }
}
