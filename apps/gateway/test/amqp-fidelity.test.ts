// The gateway with an AMQP 1.0 peer that is not rhea (Qpid Proton), through the real broker:
// typed ids, /queue/NAME reply addresses, application_properties (W3C traceparent) both ways, what
// the metrics count, and a node whose own reply address does not reach it.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import type { CiMessage } from '@session-gateway/message-schema'
import { TestClient, until } from '@session-gateway/test-kit'
import type { CiMeta } from '../src/index.js'
import { deleteQueues, listQueues, unique } from './helpers/broker.js'
import { BROKER_URL } from './helpers/fake-user-manager.js'
import { type StartedGateway, startGateway } from './helpers/gateway.js'
import { protonJson, protonReceive, protonSend } from './helpers/proton.js'

const traceparent = () => `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`

async function metric(gw: StartedGateway, line: RegExp): Promise<number> {
  const text = await (await fetch(`${gw.httpUrl}/metrics`)).text()
  const found = text.split('\n').find((l) => line.test(l))
  return found === undefined ? 0 : Number(found.split(' ').at(-1))
}

describe('the gateway with a Qpid Proton UM and CI (real broker)', () => {
  const nodeId = unique('test-fidelity')
  const um = unique('test-fidelity-um')
  const replies = unique('test-fidelity-replies')
  const seen: Array<[CiMessage, CiMeta]> = []
  let gw: StartedGateway
  after(async () => {
    await gw?.gateway.close()
    await deleteQueues([um, replies, ...(await listQueues()).filter((q) => q.includes(nodeId))])
  })

  it('starts; its node check PINGs are counted as node checks, not as User Manager messages', async () => {
    gw = await startGateway(
      { AMQP_URL: BROKER_URL, GATEWAY_NODE_ID: nodeId, UM_ADDRESS: `/queue/${um}` },
      { onCiMessage: (message, meta) => void seen.push([message, meta]) },
    )
    await until(() => gw.gateway.backend.nodeIdCheck !== 'pending', {
      timeoutMs: 20_000,
      what: 'the node check',
    })
    assert.equal(gw.gateway.backend.nodeIdCheck, 'unique')
    assert.equal(await metric(gw, /^gateway_node_check_pings_total\{.*outcome="answered"/), 16)
    assert.equal(await metric(gw, /^gateway_um_messages_sent_total\{/), 0)
    assert.equal(await metric(gw, /^gateway_results_total\{.*outcome="accepted"/), 16)
  })

  it("a client frame's trace reaches a proton UM as the CLIENT_EVENT's traceparent/tracestate", async () => {
    const trace = { traceparent: traceparent(), tracestate: 'gw=1' }
    const client = await TestClient.open(gw.wsUrl)
    client.send({ event: 'chat.send', data: { text: 'hi' }, id: 'e1', trace })
    assert.equal((await client.reply('e1')).ok, true)
    client.send({ event: 'chat.send', id: 'e2', trace: { traceparent: 'not-one' } })
    const refused = await client.reply('e2')
    assert.equal(refused.error?.code, 'INVALID')
    assert.match(refused.error?.message ?? '', /"trace" must be \{traceparent, tracestate\?\}/)
    await client.close()
    // CLIENT_CONNECTED, CLIENT_EVENT, CLIENT_DISCONNECTED: only the event carries the trace.
    const got = await protonReceive(BROKER_URL, `/amq/queue/${um}`, 3)
    const event = got.find((m) => m.subject === 'CLIENT_EVENT')
    assert.deepEqual(protonJson(event), {
      type: 'CLIENT_EVENT',
      v: 1,
      sid: (protonJson(event) as { sid: string }).sid,
      node: nodeId,
      ts: (protonJson(event) as { ts: number }).ts,
      event: 'chat.send',
      data: { text: 'hi' },
      requestId: 'e1',
    })
    assert.deepEqual(event?.application_properties, trace)
    assert.equal(got.find((m) => m.subject === 'CLIENT_CONNECTED')?.application_properties, null)
    await until(async () => (await metric(gw, /^gateway_um_messages_sent_total\{/)) === 3, {
      timeoutMs: 5000,
      what: 'UM count',
    })
  })

  it('a proton CI: ulong id, /queue/NAME reply_to and a traceparent; the hook sees its application_properties, the RESULT keeps id type and trace', async () => {
    // The CI's reply queue: non-durable, named the RabbitMQ way.
    await protonSend(BROKER_URL, `/queue/${replies}`, { body: { warm: 1 }, message_id: 'warm-up' })
    await protonReceive(BROKER_URL, `/amq/queue/${replies}`, 1)
    const trace = traceparent()
    const id = BigInt(`0x${randomBytes(6).toString('hex')}`).toString()
    const outcome = await protonSend(BROKER_URL, gw.gateway.backend.nodeReplyTo, {
      body: { type: 'PING', v: 1 },
      message_id: id,
      id_type: 'ulong',
      reply_to: `/queue/${replies}`,
      application_properties: { traceparent: trace, tenant: 'blue' },
    })
    assert.equal(outcome, 'accepted')
    const [result] = await protonReceive(BROKER_URL, `/amq/queue/${replies}`, 1)
    assert.deepEqual(result?.typed_correlation_id, ['ulong', id])
    assert.deepEqual(result?.application_properties, { traceparent: trace })
    assert.equal((protonJson(result) as { ok: boolean }).ok, true)
    const hooked = seen.find(([, meta]) => meta.messageId === id)
    assert.equal(hooked?.[0].type, 'PING')
    assert.deepEqual(hooked?.[1].applicationProperties, { traceparent: trace, tenant: 'blue' })
  })

  it('a RESULT that cannot be sent is counted as failed (and warned about with its address)', async () => {
    const before = await metric(gw, /^gateway_results_total\{.*outcome="failed"/)
    await protonSend(BROKER_URL, gw.gateway.backend.nodeReplyTo, {
      body: { type: 'PING', v: 1 },
      message_id: unique('p-lost'),
      reply_to: `/exchange/${unique('no-such-exchange')}/x`,
    })
    await until(async () => (await metric(gw, /^gateway_results_total\{.*outcome="failed"/)) === before + 1, {
      timeoutMs: 15_000,
      what: 'the failed RESULT counted',
    })
  })
})

describe('a node whose own reply address does not reach it (real broker)', () => {
  const nodeId = unique('test-unreachable')
  let gw: StartedGateway | undefined
  after(async () => {
    await gw?.gateway.close()
    await deleteQueues((await listQueues()).filter((q) => q.includes(nodeId)))
  })

  it('says so: nodeCheck unreachable, /readyz 503, gateway_node_address_unreachable 1', async () => {
    gw = await startGateway({
      AMQP_URL: BROKER_URL,
      GATEWAY_NODE_ID: nodeId,
      // A queue nobody declared: the broker accepts and drops what is sent there.
      NODE_REPLY_TO: `/amq/queue/${nodeId}-nobody`,
      AMQP_SEND_TIMEOUT_MS: '1500',
    })
    const started = gw
    await until(() => started.gateway.backend.nodeIdCheck !== 'pending', {
      timeoutMs: 20_000,
      what: 'the node check',
    })
    assert.equal(started.gateway.backend.nodeIdCheck, 'unreachable')
    const ready = await fetch(`${started.httpUrl}/readyz`)
    assert.equal(ready.status, 503)
    const { brokerUrl, ...readiness } = (await ready.json()) as Record<string, unknown>
    assert.deepEqual(readiness, {
      ready: false,
      broker: 'open',
      mode: 'amqp',
      shuttingDown: false,
      nodeCheck: 'unreachable',
    })
    // The broker the node is connected to (AMQP_URL may list several), its password masked.
    assert.equal(
      brokerUrl,
      new URL(BROKER_URL).password ? BROKER_URL.replace(/:[^:@/]*@/, ':***@') : BROKER_URL,
    )
    assert.equal(await metric(started, /^gateway_node_address_unreachable\{/), 1)
    assert.equal(await metric(started, /^gateway_node_check_pings_total\{.*outcome="unanswered"/), 1)
  })
})
