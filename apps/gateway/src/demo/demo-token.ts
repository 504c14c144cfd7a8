#!/usr/bin/env node
import { SignJWT } from 'jose'

/**
 * Prints a demo page address signed in as a user, for a gateway started with the same
 * AUTH_JWT_SECRET (HS256, valid one hour):
 *   AUTH_JWT_SECRET=<secret> node apps/gateway/dist/demo/demo-token.js alice [http://localhost:8080/]
 * For trying the demo only: real tokens come from your identity provider.
 */
async function main(): Promise<void> {
  const [sub, page = 'http://localhost:8080/'] = process.argv.slice(2)
  const secret = process.env.AUTH_JWT_SECRET
  if (!sub || !secret || secret.length < 32) {
    process.stderr.write(
      'usage: AUTH_JWT_SECRET=<32+ characters> node dist/demo/demo-token.js <user> [page address]\n',
    )
    process.exit(2)
  }
  const token = await new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret))
  const url = new URL(page)
  url.searchParams.set('access_token', token)
  process.stdout.write(`${url.toString()}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`demo-token: ${(err as Error)?.message ?? String(err)}\n`)
  process.exit(1)
})
