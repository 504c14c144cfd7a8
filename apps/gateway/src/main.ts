#!/usr/bin/env node
import closeWithGrace from 'close-with-grace'
import { buildGateway } from './app.js'
import { ConfigError, helpText, loadConfig } from './config/load-config.js'

/** The entry point: read the configuration, start the node, stop it gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(helpText())
    return
  }
  let config: ReturnType<typeof loadConfig>
  let gateway: Awaited<ReturnType<typeof buildGateway>>
  try {
    config = loadConfig()
    // Some values can only be checked by using them (the JWKS file): those are ConfigErrors too.
    gateway = await buildGateway(config)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`session-gateway: ${err.message}\nRun with --help to see every variable.\n`)
      process.exit(2)
    }
    throw err
  }

  const log = gateway.app.log
  // First signal: graceful close, bounded in time. A second signal, or the delay, forces the exit.
  // With resume on and a broker, a rolling deploy's drain comes first (up to GATEWAY_DRAIN_MS, at most the window).
  const drainMs =
    config.bridge.url && config.resume.windowMs > 0
      ? Math.min(config.node.drainMs, config.resume.windowMs)
      : 0
  // The drain, then forwarding for one more takeover timeout once every session moved (nodes/wiring.ts).
  const lingerMs = drainMs > 0 ? config.node.takeoverTimeoutMs : 0
  closeWithGrace(
    { delay: config.node.shutdownTimeoutMs + drainMs + lingerMs },
    async ({ signal, err, manual }) => {
      if (err) log.error({ err }, 'stopping after an unexpected error')
      if (err) await gateway.close()
      else {
        log.info(
          { signal, manual, drainMs },
          drainMs > 0 ? 'shutting down: draining (1012)' : 'shutting down: closing sessions with 1001',
        )
        await gateway.drainAndClose()
      }
      log.info('stopped')
    },
  )
  const urls = await gateway.listen()
  log.info(
    { ...urls, mode: gateway.backend.kind, nodeReplyTo: gateway.backend.nodeReplyTo },
    gateway.embedded
      ? `gateway ready in embedded mode (no broker): open ${urls.httpUrl}/ for the demo`
      : gateway.backend.state === 'open'
        ? 'gateway ready'
        : 'gateway listening; ready once the broker connects (/readyz says 503 until then)',
  )
}

main().catch((err: unknown) => {
  process.stderr.write(`session-gateway: failed to start: ${(err as Error)?.stack ?? String(err)}\n`)
  process.exit(1)
})
