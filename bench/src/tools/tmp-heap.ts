import { readdirSync } from 'node:fs'
import { startGateway } from '../lib/gateway.js'
import { connectAll, startLoadgens } from '../lib/loadgens.js'
import { rssBytes } from '../lib/proc-stats.js'
import { stopAll } from '../lib/procs.js'
import { deleteQueuesContaining } from '../lib/rabbitmq.js'

const settings = {
  runId: `heap${Date.now().toString(36)}`,
  warmupMs: 0,
  durationMs: 0,
  rounds: 1,
  profileDir: undefined,
  log: console.log,
}
const dir = '/tmp/heap'
const gw = await startGateway(settings, 'H', {
  execArgv: ['--heapsnapshot-signal=SIGURG', `--diagnostic-dir=${dir}`],
})
const lgs = await startLoadgens('h', 1)
const r0 = rssBytes(gw.gateway.pid)
process.kill(gw.gateway.pid, 'SIGURG')
await new Promise((r) => setTimeout(r, 3000))
const c = await connectAll(lgs, { url: gw.wsUrl }, 2000)
await new Promise((r) => setTimeout(r, 2000))
console.log('opened', c.opened, 'rss/session', (rssBytes(gw.gateway.pid) - r0) / 2000)
process.kill(gw.gateway.pid, 'SIGURG')
await new Promise((r) => setTimeout(r, 4000))
console.log(readdirSync(dir))
await stopAll(lgs)
await gw.gateway.stop()
await gw.um.stop()
await deleteQueuesContaining(settings.runId)
