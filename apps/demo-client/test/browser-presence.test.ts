import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Browser } from 'playwright-core'
import { currentSid, type DemoTab, launchChromium, openDemo, screenshot } from './helpers/browser.js'
import { freePort, GatewayProcess } from './helpers/processes.js'

const SECRET = randomBytes(24).toString('hex')
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
/** An HS256 JWT for `sub`, as an identity provider would sign it (the gateway verifies it). */
function jwtFor(sub: string): string {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 600 })}`
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`
}

// Embedded mode with authentication on: each page is signed in by the ?access_token= of its address.
const gateway = new GatewayProcess(await freePort(), randomBytes(16).toString('hex'), () => ({
  AUTH_JWT_SECRET: SECRET,
}))

describe('demo page in Chromium: a user with two tabs, and who is in the room', () => {
  let browser: Browser | undefined
  const room = `who-${randomBytes(3).toString('hex')}`
  let first: DemoTab
  let second: DemoTab
  let other: DemoTab
  const sids: string[] = []
  const open = async (sub: string) => {
    if (!browser) throw new Error('no browser')
    const tab = await openDemo(browser, `${gateway.httpUrl}/?access_token=${jwtFor(sub)}`)
    sids.push(await currentSid(tab.page))
    return tab
  }
  before(async () => {
    await gateway.start()
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close().catch(() => {})
    await gateway.stop()
  })

  it('shows who the page is signed in as', async () => {
    first = await open('alice')
    second = await open('alice')
    other = await open('bob')
    assert.match((await first.page.getByTestId('signed-in-as').textContent()) ?? '', /Signed in as alice\./)
  })

  it("a message to the user from the first tab reaches the second tab, and not another user's", async () => {
    await first.page.getByTestId('user-text').fill('hello, my other tab')
    await first.page.getByTestId('user-send').click()
    const [sidFirst] = sids
    const line = `[data-testid="user-message"][data-from="${sidFirst}"]`
    await second.page.locator(line).filter({ hasText: 'hello, my other tab' }).waitFor()
    await first.page.locator(line).filter({ hasText: 'this tab' }).waitFor()
    // bob's page answers its own echo after the message went out: it got no user message before it.
    await other.page.getByTestId('echo-send').click()
    await other.page.locator('[data-testid="ack"][data-event="echo"][data-ok="true"]').waitFor()
    assert.equal(await other.page.getByTestId('user-message').count(), 0)
  })

  it('the presence list of a room shows every member with its user, and follows joins', async () => {
    for (const tab of [first, second, other]) {
      await tab.page.getByTestId('room-name').fill(room)
      await tab.page.getByTestId('room-join').click()
      await tab.page.locator(`[data-testid="room-chip"][data-room="${room}"]`).waitFor()
    }
    const block = first.page.locator(`[data-testid="presence"][data-room="${room}"][data-count="3"]`)
    await block.waitFor()
    const names = await block.getByTestId('presence-member').allTextContents()
    assert.deepEqual(names.sort(), ['alice', 'alice (this tab)', 'bob'])
    await screenshot(first.page, 'demo-client-presence')
    await other.page.getByTestId('room-leave').click()
    await first.page.locator(`[data-testid="presence"][data-room="${room}"][data-count="2"]`).waitFor()
    for (const tab of [first, second, other]) assert.deepEqual(tab.errors, [])
  })
})
