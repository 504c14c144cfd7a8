import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { copyFile } from 'node:fs/promises'
import { after, before, describe, it } from 'node:test'
import { until } from '@session-gateway/test-kit'
import type { Browser } from 'playwright-core'
import {
  currentSid,
  type DemoTab,
  DOCS_SCREENSHOT,
  launchChromium,
  openDemo,
  screenshot,
  waitForState,
  withText,
} from './browser.js'
import { type Child, exited, type GatewayProcess } from './processes.js'
import { connectionProblems } from './wire-contract.js'

/** The processes one run needs: the gateway, and in broker mode the demo User Manager. */
export interface TestSystem {
  /** Short name, used in test titles and screenshot names. */
  mode: string
  gateway: GatewayProcess
  start(): Promise<void>
  /** Every child process, to report on when a wait fails. */
  children(): Child[]
  /** Ends every process this system started and removes what it left on the broker. */
  cleanup(): Promise<void>
}

export interface FlowOptions {
  /** Also try the mistakes a person can make (bad room name, bad event, rate limit). */
  mistakes?: boolean
  /** Copy the chat screenshot to docs/demo-page.png (set TEST_UPDATE_DOCS_SCREENSHOT=1). */
  docsScreenshot?: boolean
}

const SID = /^[A-Za-z0-9_-]{22,128}$/
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`

/**
 * The page as a person uses it, in a real Chromium, against gateway processes: SID, echo,
 * a room chat between two pages, mistakes, and a gateway restart.
 */
export function describeDemoFlow(system: TestSystem, options: FlowOptions = {}): void {
  describe(`demo page in Chromium (${system.mode})`, () => {
    let browser: Browser | undefined
    const tabs: DemoTab[] = []
    let a: DemoTab
    let b: DemoTab
    let sidA = ''
    let sidB = ''
    const room = unique('room')
    const gw = system.gateway
    const wait = (check: () => boolean | Promise<boolean>, what: string, ms = 10_000) =>
      until(check, { what, timeoutMs: ms, intervalMs: 100, failure: exited(system.children()) })
    const open = async () => {
      if (!browser) throw new Error('no browser')
      const tab = await openDemo(browser, `${gw.httpUrl}/`)
      tabs.push(tab)
      return tab
    }
    const listed = async (sid: string, inRoom?: string) => {
      const { items } = await gw.sessions()
      const s = items.find((i) => i.sid === sid)
      return s !== undefined && (inRoom === undefined || s.rooms.includes(inRoom))
    }

    before(async () => {
      await system.start()
      browser = await launchChromium()
    })

    after(async () => {
      await browser?.close().catch(() => {})
      await system.cleanup()
    })

    it('opens, connects, and shows a SID that GET /v1/sessions lists', async () => {
      a = await open()
      assert.equal(await a.page.getByTestId('ws-url').textContent(), `ws://127.0.0.1:${gw.port}/ws`)
      assert.match(await waitForState(a.page, 'open'), /Connected/)
      sidA = await currentSid(a.page)
      assert.match(sidA, SID)
      await wait(() => listed(sidA), `GET /v1/sessions to list ${sidA}`)
      await a.page.locator('[data-testid="ack"][data-event="GET_SID"][data-ok="true"]').waitFor()
    })

    it('sends an echo and shows it coming back, with the reply and its round-trip time', async () => {
      const text = unique('echo')
      await a.page.getByTestId('echo-text').fill(text)
      await a.page.getByTestId('echo-send').click()
      await withText(a.page, 'echo-result', text).waitFor()
      await a.page
        .locator('[data-testid="frame"][data-direction="in"][data-kind="event"]')
        .filter({ hasText: text })
        .waitFor()
      const ack = a.page.locator('[data-testid="ack"][data-event="echo"][data-ok="true"]').first()
      await ack.waitFor()
      assert.match((await ack.getByTestId('ack-rtt').textContent()) ?? '', /^\d+(\.\d)? ms$/)
    })

    it('lets two pages join the same room and chat', async () => {
      b = await open()
      sidB = await currentSid(b.page)
      assert.notEqual(sidB, sidA)
      for (const tab of [a, b]) {
        await tab.page.getByTestId('room-name').fill(room)
        await tab.page.getByTestId('room-join').click()
        await tab.page.locator(`[data-testid="room-chip"][data-room="${room}"]`).waitFor()
      }
      await withText(a.page, 'chat-system', `${sidB.slice(0, 8)}… joined`).waitFor()
      await wait(
        async () => (await listed(sidA, room)) && (await listed(sidB, room)),
        'both sessions in the room',
      )

      await b.page.getByTestId('chat-text').fill('hello from the second tab')
      await b.page.getByTestId('chat-text').press('Enter')
      await a.page
        .locator(`[data-testid="chat-message"][data-room="${room}"][data-from="${sidB}"]`)
        .filter({ hasText: 'hello from the second tab' })
        .waitFor()
      await a.page.getByTestId('chat-text').fill('hi! this is the first tab')
      await a.page.getByTestId('chat-send').click()
      await b.page
        .locator(`[data-testid="chat-message"][data-room="${room}"][data-from="${sidA}"]`)
        .filter({ hasText: 'this is the first tab' })
        .waitFor()
      await a.page.locator(`[data-testid="chat-message"][data-from="${sidA}"]`).waitFor()

      const shot = await screenshot(a.page, `demo-client-${system.mode}-chat`)
      if (options.docsScreenshot) await copyFile(shot, DOCS_SCREENSHOT)
    })

    if (options.mistakes) {
      it('explains the mistakes a person can make, on the page', async () => {
        const c = await open()
        const { page } = c
        await currentSid(page)
        const notice = (level: string, text: string | RegExp) =>
          page.locator(`[data-testid="notice"][data-level="${level}"]`).filter({ hasText: text }).first()

        await page.getByTestId('room-name').fill('   ')
        await page.getByTestId('room-join').click()
        await notice('warning', 'Enter a room name first').waitFor()
        assert.equal(await page.getByTestId('room-name').getAttribute('aria-invalid'), 'true')
        await page.getByTestId('room-name').fill('two words')
        await page.getByTestId('room-name').press('Enter')
        await notice('warning', 'not a valid room name').waitFor()

        await page.locator('[data-testid="advanced"] summary').click()
        await page.getByTestId('custom-event').fill('no.such.event')
        await page.getByTestId('custom-data').fill('')
        await page.getByTestId('custom-send').click()
        await notice('warning', 'does not know the event "no.such.event"').waitFor()

        await page.getByTestId('custom-event').fill('bad event!')
        await page.getByTestId('custom-send').click()
        await notice('error', /bad event! #\d+ failed: INVALID/).waitFor()
        await page.locator('[data-testid="ack"][data-event="bad event!"][data-ok="false"]').waitFor()

        await page.getByTestId('custom-event').fill('echo')
        await page.getByTestId('custom-data').fill('{oops')
        await page.getByTestId('custom-send').click()
        await notice('warning', 'not valid JSON').waitFor()

        // 220 frames at once against the default bucket of 200: some are refused, and the page says so.
        await page.getByTestId('burst-count').fill('220')
        await page.getByTestId('burst-send').click()
        await notice('error', /Burst of 220 echoes: .*RATE_LIMITED/).waitFor({ timeout: 15_000 })
        assert.equal(await page.locator('[data-testid="conn-status"]').getAttribute('data-state'), 'open')
        await page.context().close()
      })
    }

    it('says when the gateway goes away, and reconnects with a new SID when it is back', async () => {
      const code = await gw.stop()
      assert.equal(code, 0, 'the gateway exits with 0 after SIGTERM')
      for (const tab of [a, b]) {
        await waitForState(tab.page, 'reconnecting')
        // Sessions are closed with 1001 (going away) on SIGTERM: the page tells the person.
        await withText(tab.page, 'notice', 'Lost the connection to the gateway').waitFor()
        await withText(tab.page, 'notice', 'Closed with code 1001').waitFor()
        assert.equal(await tab.page.getByTestId('sid').getAttribute('data-current'), 'false')
      }
      await a.page.getByTestId('echo-send').click()
      await withText(a.page, 'notice', 'echo').filter({ hasText: 'NOT_CONNECTED' }).waitFor()
      await screenshot(a.page, `demo-client-${system.mode}-reconnecting`)

      await gw.start()
      const before = { a: sidA, b: sidB }
      for (const tab of [a, b]) await waitForState(tab.page, 'open', 20_000)
      sidA = await currentSid(a.page)
      sidB = await currentSid(b.page)
      assert.notEqual(sidA, before.a)
      assert.notEqual(sidB, before.b)
      await withText(a.page, 'notice', 'Reconnected').waitFor()
      await wait(
        async () => (await listed(sidA, room)) && (await listed(sidB, room)),
        'the new sessions back in the room',
      )
      const { items } = await gw.sessions()
      assert.ok(!items.some((s) => s.sid === before.a || s.sid === before.b), 'old SIDs are gone')

      await b.page.getByTestId('chat-text').fill('back again')
      await b.page.getByTestId('chat-send').click()
      await a.page
        .locator(`[data-testid="chat-message"][data-from="${sidB}"]`)
        .filter({ hasText: 'back again' })
        .waitFor()
      await screenshot(a.page, `demo-client-${system.mode}-reconnected`)
    })

    it('leaves the room: the other page is told, the gateway forgets the membership', async () => {
      await a.page.getByRole('button', { name: `Leave room ${room}` }).click()
      await a.page.locator(`[data-testid="room-chip"][data-room="${room}"]`).waitFor({ state: 'detached' })
      await withText(b.page, 'chat-system', `${sidA.slice(0, 8)}… left`).waitFor()
      await wait(
        async () => !(await listed(sidA, room)) && (await listed(sidA)),
        'the session out of the room',
      )
    })

    it('saw only frames that match the wire contract, and no page errors', async () => {
      for (const tab of [a, b]) {
        assert.equal(await tab.page.locator('[data-testid="frame"][data-kind="warning"]').count(), 0)
      }
      // The frames themselves, read by the test from PROTOCOL.md (not by the page's classifier,
      // which uses the gateway's own validators): each is an event, reply or error frame, and each
      // id is answered at most once, and only when the page sent it.
      let received = 0
      let replies = 0
      for (const tab of tabs) {
        for (const connection of tab.connections) {
          assert.deepEqual(connectionProblems(connection), [], connection.url)
          received += connection.received.length
          replies += connection.received.filter((f) => 'id' in (JSON.parse(f as string) as object)).length
        }
      }
      assert.ok(received > 0 && replies > 0, `frames checked: ${received}, of them replies: ${replies}`)
      for (const tab of tabs) assert.deepEqual(tab.errors, [], 'no uncaught errors in the page')
    })
  })
}
