import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { until } from '@session-gateway/test-kit'
import type { Browser } from 'playwright-core'
// The client library's own test proxy (a TCP proxy that can cut every connection through it).
import { CutProxy } from '../../../packages/client/test/helpers/cut-proxy.js'
import {
  currentSid,
  type DemoTab,
  launchChromium,
  openDemo,
  screenshot,
  waitForState,
} from './helpers/browser.js'
import { exited, freePort, GatewayProcess } from './helpers/processes.js'

// Embedded mode with resume on. Page a talks to the gateway through a TCP proxy that the test cuts
// (a real drop: no close frame, the gateway sees 1006; DevTools' offline mode would leave the
// WebSocket open); page b talks to it directly and sends to the room meanwhile.
const gateway = new GatewayProcess(await freePort(), randomBytes(16).toString('hex'), () => ({
  SESSION_RESUME_WINDOW_MS: '30000',
}))

describe('demo page in Chromium: the connection cut under it, and resumed', () => {
  let browser: Browser | undefined
  let proxy: CutProxy
  let a: DemoTab
  let b: DemoTab
  let sidA = ''
  const room = `resume-${randomBytes(3).toString('hex')}`
  const wait = (check: () => boolean | Promise<boolean>, what: string) =>
    until(check, {
      what,
      timeoutMs: 15_000,
      intervalMs: 100,
      failure: exited(gateway.child ? [gateway.child] : []),
    })

  /** The admin API's view of a session (undefined when the node does not hold it). */
  const sessionView = async (sid: string) => {
    const res = await fetch(`${gateway.httpUrl}/v1/sessions/${sid}`, {
      headers: { authorization: `Bearer ${gateway.adminToken}` },
      signal: AbortSignal.timeout(3000),
    })
    return res.status === 200 ? ((await res.json()) as { detached?: boolean; rooms: string[] }) : undefined
  }
  const messages = (tab: DemoTab, text: string) =>
    tab.page.locator(`[data-testid="chat-message"][data-room="${room}"]`).filter({ hasText: text })
  /** b says `text` in the room and sees it come back: the gateway has sent it to every member. */
  const say = async (text: string) => {
    await b.page.getByTestId('chat-text').fill(text)
    await b.page.getByTestId('chat-send').click()
    await messages(b, text).waitFor()
  }

  before(async () => {
    await gateway.start()
    proxy = await CutProxy.start(gateway.port)
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close().catch(() => {})
    await proxy?.close()
    await gateway.stop()
  })

  it('joins a room through the proxy; a second page joins it directly', async () => {
    if (!browser) throw new Error('no browser')
    a = await openDemo(browser, `${gateway.httpUrl}/?ws=ws://127.0.0.1:${proxy.port}/ws`)
    b = await openDemo(browser, `${gateway.httpUrl}/`)
    assert.match(await waitForState(a.page, 'open'), /Connected: new session/)
    sidA = await currentSid(a.page)
    for (const tab of [a, b]) {
      await tab.page.getByTestId('room-name').fill(room)
      await tab.page.getByTestId('room-join').click()
      await tab.page.locator(`[data-testid="room-chip"][data-room="${room}"]`).waitFor()
    }
    await say('before the cut')
    await messages(a, 'before the cut').waitFor()
  })

  it('cut by the proxy: the page resumes with its SID and room and shows every message sent meanwhile once, in order', async () => {
    proxy.cut()
    await waitForState(a.page, 'reconnecting')
    assert.match((await a.page.getByTestId('sid').textContent()) ?? '', /away: will be resumed/)
    await wait(async () => (await sessionView(sidA))?.detached === true, 'the gateway to detach the session')
    const meanwhile = ['while away 1', 'while away 2', 'while away 3']
    for (const text of meanwhile) await say(text)

    proxy.restore()
    assert.match(
      await waitForState(a.page, 'open', 20_000),
      /Connected: resumed \(3 missed events replayed\)/,
    )
    assert.equal(await currentSid(a.page), sidA, 'the same SID')
    await a.page.locator(`[data-testid="room-chip"][data-room="${room}"]`).waitFor()
    await a.page.locator('[data-testid="notice"]').filter({ hasText: 'Resumed.' }).waitFor()
    for (const text of meanwhile) await messages(a, text).waitFor()
    await say('after the resume')
    await messages(a, 'after the resume').waitFor()

    const texts = await a.page
      .locator(`[data-testid="chat-message"][data-room="${room}"] .chat-text`)
      .allTextContents()
    assert.deepEqual(
      texts,
      ['before the cut', ...meanwhile, 'after the resume'],
      'each message once, in order',
    )
    const view = await sessionView(sidA)
    assert.equal(view?.detached ?? false, false)
    assert.ok(view?.rooms.includes(room), 'still in the room')
    // The page resumed: it asked with its token and last seq, and did not join the room again.
    const last = a.connections.at(-1)
    assert.match(last?.url ?? '', /[?&]resume=[^&]+&last_seq=\d+/)
    assert.equal(
      last?.sent.some((f) => f?.includes('"room.join"')),
      false,
      'no room.join after the resume',
    )
    await screenshot(a.page, 'demo-client-resumed')
  })

  it('Drop connection: the page closes with 4000, reconnects by itself, and resumes', async () => {
    const before = a.connections.length
    await a.page.getByTestId('drop-connection').click()
    await wait(() => a.connections.length > before, 'a new connection')
    assert.match(await waitForState(a.page, 'open', 20_000), /Connected: resumed/)
    assert.equal(await currentSid(a.page), sidA)
    await say('after the drop')
    await messages(a, 'after the drop').waitFor()
    assert.equal(await messages(a, 'after the drop').count(), 1)
    for (const tab of [a, b]) assert.deepEqual(tab.errors, [], 'no uncaught errors in the page')
  })
})
