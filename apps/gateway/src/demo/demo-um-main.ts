#!/usr/bin/env node
import { decodeResult, decodeUmMessage } from '@session-gateway/message-schema'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import fastifyCiBridge from 'fastify-ci-bridge'
import { createDemoUserManager } from './demo-user-manager.js'

/**
 * The demo User Manager as its own process, against a real broker:
 *   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 node apps/gateway/dist/demo/demo-um-main.js
 * It consumes the User Manager address and answers through the gateway nodes'
 * reply_to addresses and the broadcast address. Its variables: the README, "The demo User Manager".
 */
async function main(): Promise<void> {
  const url = process.env.AMQP_URL
  const profile = process.env.AMQP_PROFILE || 'rabbitmq'
  const problems = [
    ...(url ? [] : ['set AMQP_URL (e.g. amqp://guest:guest@127.0.0.1:5672)']),
    ...(profile === 'rabbitmq' || profile === 'generic'
      ? []
      : [`AMQP_PROFILE=${JSON.stringify(profile)}: must be rabbitmq or generic`]),
  ]
  if (!url || problems.length > 0) {
    process.stderr.write(`demo-user-manager: ${problems.join('; ')}\n`)
    process.exit(2)
  }
  const app = Fastify({
    logger: { level: process.env.LOG_LEVEL ?? 'info', base: { component: 'demo-user-manager' } },
  })
  await app.register(fastifyCiBridge, {
    url: url.split(',').map((u) => u.trim()),
    nodeId: process.env.DEMO_UM_ID ?? `demo-um-${process.pid}`,
    profile: profile === 'generic' ? 'generic' : 'rabbitmq',
    ...(process.env.UM_ADDRESS ? { userManagerAddress: process.env.UM_ADDRESS } : {}),
    ...(process.env.BROADCAST_ADDRESS ? { broadcastAddress: process.env.BROADCAST_ADDRESS } : {}),
    // With AMQP_PROFILE=generic: its own address, and where the RESULTs of its JOIN/LEAVE requests come back.
    ...(process.env.NODE_ADDRESS ? { nodeAddress: process.env.NODE_ADDRESS } : {}),
    ...(process.env.REQUEST_REPLY_ADDRESS ? { requestReplyAddress: process.env.REQUEST_REPLY_ADDRESS } : {}),
  })
  const bridge = app.ciBridge
  const handler = createDemoUserManager(
    {
      toNode: (address, body) => bridge.send(address, body),
      async requestNode(address, body) {
        const { body: reply } = await bridge.request(address, body, { timeoutMs: 5000 })
        const decoded = decodeResult(reply)
        if (!decoded.ok) throw new Error(`bad RESULT: ${decoded.error.message}`)
        return decoded.message
      },
      toAllNodes: (body) => bridge.send(bridge.broadcastAddress, body),
    },
    app.log,
  )
  closeWithGrace({ delay: 5000 }, async () => {
    await app.close()
  })
  // The bridge connects when the app is ready; the subscription waits for its link to attach.
  await app.ready()
  await bridge.subscribe(bridge.userManagerAddress, { decode: decodeUmMessage, handler, durable: true })
  app.log.info({ address: bridge.userManagerAddress }, 'demo User Manager consuming')
}

main().catch((err: unknown) => {
  process.stderr.write(`demo-user-manager: ${(err as Error)?.stack ?? String(err)}\n`)
  process.exit(1)
})
