import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { Bridge } from './bridge.js'
import { resolveOptions } from './options.js'
import type { CiBridge, CiBridgeOptions } from './types.js'

declare module 'fastify' {
  interface FastifyInstance {
    ciBridge: CiBridge
  }
}

async function ciBridgePlugin(fastify: FastifyInstance, options: CiBridgeOptions): Promise<void> {
  const resolved = resolveOptions(options, randomBytes(4).toString('hex'))
  const log = fastify.log.child({ plugin: 'fastify-ci-bridge', node: resolved.nodeId })
  const bridge = new Bridge(resolved, log)
  fastify.decorate('ciBridge', bridge)
  fastify.addHook('onClose', async () => {
    await bridge.close()
  })
  // Connecting starts when the app is ready (after a `consume(handler)` from a later plugin) and does
  // not hold it up: readiness follows `ciBridge.state` (and `waitForOpen()`).
  fastify.addHook('onReady', async () => {
    bridge.start()
  })
}

/**
 * Fastify plugin: a zero-loss AMQP 1.0 bridge, decorated as `fastify.ciBridge`.
 * Options are validated at registration; everything is closed in `onClose`.
 */
export const fastifyCiBridge = fp(ciBridgePlugin, { name: 'fastify-ci-bridge', fastify: '5.x' })
