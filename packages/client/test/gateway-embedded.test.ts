import { GatewayNode } from './helpers/gateway-process.js'
import { describeResume } from './helpers/resume-scenarios.js'

// Embedded mode: one gateway process with its in-process demo User Manager, resume on.
let node: GatewayNode | undefined
describeResume({
  mode: 'embedded',
  async start() {
    node = await GatewayNode.start({ SESSION_RESUME_WINDOW_MS: '30000' })
    return node
  },
  stop: async () => node?.stop(),
  explain: () => node?.process.explain() ?? '',
})
