// A CI flooder in its own process (so that the test process measuring latency is not the one busy
// encoding megabytes): sends EMITs of `chunkBytes` to one SID on a node's address until `totalBytes`
// are sent, waits for every RESULT, and prints one JSON line with the tally (after a first line,
// {"started":true}, once the first EMIT was accepted).
// Input: the FLOOD environment variable, JSON {address, sid, totalBytes, chunkBytes, maxInFlight,
// replyQueue} (the parent names the results queue, so that it can delete it whatever happens here).
import { CiPeer } from './ci-peer.js'

interface FloodSpec {
  address: string
  sid: string
  totalBytes: number
  chunkBytes: number
  maxInFlight: number
  replyQueue: string
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.FLOOD ?? '{}') as FloodSpec
  const ci = await CiPeer.start(spec.replyQueue)
  const chunk = 'x'.repeat(spec.chunkBytes)
  const emits = Math.ceil(spec.totalBytes / spec.chunkBytes)
  const ids: string[] = []
  const outcomes: Promise<unknown>[] = []
  const t0 = performance.now()
  for (let i = 0; i < emits; i++) {
    const sent = await ci.send(
      spec.address,
      ci.json({ type: 'EMIT', v: 1, sid: spec.sid, event: 'flood', data: { i, chunk } }),
      spec.maxInFlight,
    )
    ids.push(sent.messageId)
    outcomes.push(sent.outcome)
    if (i === 0) {
      await sent.outcome
      process.stdout.write('{"started":true}\n')
    }
  }
  await Promise.all(outcomes)
  const sentMs = performance.now() - t0
  await ci.waitUntil(() => ids.every((id) => ci.results.has(id)), 300_000, 'a RESULT for every EMIT')
  const tally = {
    emits,
    delivered: 0,
    deliveredZero: 0,
    notFound: 0,
    other: [] as unknown[],
    firstNotDelivered: -1,
  }
  ids.forEach((id, index) => {
    const [r] = ci.results.get(id) ?? []
    if (r?.ok && (r.data as { delivered: number }).delivered === 1) tally.delivered++
    else {
      if (tally.firstNotDelivered < 0) tally.firstNotDelivered = index
      if (r?.ok) tally.deliveredZero++
      else if (r && !r.ok && r.error.code === 'SESSION_NOT_FOUND') tally.notFound++
      else tally.other.push(r)
    }
  })
  process.stdout.write(
    `${JSON.stringify({ ...tally, outcomes: ci.outcomes, sentMs: Math.round(sentMs), replyQueue: ci.replyQueue })}\n`,
  )
  await ci.close()
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`ci-flood: ${(err as Error).stack ?? String(err)}\n`)
    process.exit(1)
  },
)
