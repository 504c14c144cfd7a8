/**
 * The gateway under test: the compiled gateway (apps/gateway/dist) built from the environment by
 * `loadConfig`, exactly as `main.js` does, plus the bench's `stats`/`stop` commands. Ready once the
 * broker link is open.
 */
import { buildGateway, loadConfig } from '@session-gateway/gateway/dist/index.js'
import { failAndExit, toParent } from '../lib/ipc.js'
import { serveCommands } from '../lib/server-child.js'

async function main(): Promise<void> {
  const config = loadConfig(process.env)
  const gateway = await buildGateway(config)
  const urls = await gateway.listen()
  const until = Date.now() + 30_000
  while (gateway.backend.state !== 'open') {
    if (Date.now() > until) throw new Error(`backend still ${gateway.backend.state} after 30 s`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  serveCommands({
    sessions: () => gateway.app.wsSessions.size,
    stop: () => gateway.close(),
  })
  toParent({ type: 'ready', ...urls, nodeReplyTo: gateway.backend.nodeReplyTo })
}

main().catch(failAndExit)
