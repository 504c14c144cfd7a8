import { buildGateway, type Gateway, type GatewayOverrides } from '../../src/app.js'
import { loadConfig } from '../../src/config/load-config.js'

export interface StartedGateway {
  gateway: Gateway
  wsUrl: string
  httpUrl: string
  apiUrl: string
}

/** Starts a gateway in this process on free loopback ports, configured by environment-style variables. */
export async function startGateway(
  env: Record<string, string>,
  overrides: GatewayOverrides = {},
): Promise<StartedGateway> {
  const config = loadConfig({
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: '0',
    LOG_LEVEL: 'silent',
    GATEWAY_DEMO_PAGE: 'false',
    // Off unless a test turns it on (node-liveness.test.ts): a heartbeat would add to the UM messages tests count.
    GATEWAY_NODE_HEARTBEAT_MS: '0',
    ...env,
  })
  const gateway = await buildGateway(config, { logger: false, ...overrides })
  const urls = await gateway.listen()
  return { gateway, ...urls }
}
