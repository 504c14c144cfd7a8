import { randomBytes } from 'node:crypto'
import { describeDemoFlow } from './helpers/demo-flow.js'
import { freePort, GatewayProcess } from './helpers/processes.js'

// Embedded mode: one gateway process, no broker (in-process bus and demo User Manager).
const gateway = new GatewayProcess(await freePort(), randomBytes(16).toString('hex'))

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
