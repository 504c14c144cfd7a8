import { randomBytes } from 'node:crypto'
import { describeDemoFlow } from './helpers/demo-flow.js'
import { freePort, GatewayProcess } from './helpers/processes.js'

// Embedded mode: one gateway process, no broker (in-process bus and demo User Manager).
// The default bucket (200 frames) with a slower refill than the default 100/s, so that the page's
// burst of 220 echoes is over the limit even on a slow machine.
const gateway = new GatewayProcess(await freePort(), randomBytes(16).toString('hex'), () => ({
  SESSION_RATE_PER_SEC: '20',
}))

describeDemoFlow(
  {
    mode: 'embedded',
    gateway,
    start: () => gateway.start(),
    children: () => (gateway.child ? [gateway.child] : []),
    cleanup: async () => {
      await gateway.stop()
    },
  },
  { mistakes: true, docsScreenshot: process.env.TEST_UPDATE_DOCS_SCREENSHOT === '1' },
)
