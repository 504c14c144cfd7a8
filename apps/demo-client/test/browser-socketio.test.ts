import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from './helpers/browser.js'
import { freePort, GatewayProcess } from './helpers/processes.js'

// The second demo page (/socketio.html, served by the gateway with GATEWAY_SOCKETIO=true): an unchanged
// socket.io-client in Chromium, on an embedded gateway with resume on (for the recovery button).
const gateway = new GatewayProcess(await freePort(), randomBytes(16).toString('hex'), () => ({
  GATEWAY_SOCKETIO: 'true',
  SESSION_RESUME_WINDOW_MS: '30000',
}))

const text = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`).textContent()

async function waitForText(page: Page, id: string, want: string | RegExp): Promise<void> {
  await page.waitForFunction(
    ([testId, source, flags]) => {
      const el = document.querySelector(`[data-testid="${testId}"]`)
      return el !== null && new RegExp(source as string, flags as string).test(el.textContent ?? '')
    },
    [id, typeof want === 'string' ? `^${want}$` : want.source, typeof want === 'string' ? '' : want.flags],
  )
}

describe('the Socket.IO demo page in Chromium (embedded gateway)', () => {
  let browser: Browser
  before(async () => {
    await gateway.start()
    browser = await launchChromium()
  })
  after(async () => {
    await browser?.close()
    await gateway.stop()
  })

  for (const transport of ['websocket', 'polling'] as const) {
    it(`${transport}: connects, the echo's ack and event arrive, a dropped connection is recovered with the same socket.id`, async () => {
      const page = await browser.newPage()
      const errors: string[] = []
      page.on('pageerror', (err) => errors.push(err.message))
      await page.goto(`${gateway.httpUrl}/socketio.html`)
      await page.selectOption('[data-testid="transport"]', transport)
      await page.click('[data-testid="connect"]')
      await waitForText(page, 'status', 'connected')
      if (transport === 'polling') await waitForText(page, 'engine', 'websocket')
      const sid = (await text(page, 'sid')) ?? ''
      assert.match(sid, /^[A-Za-z0-9_-]{22,}$/)
      assert.equal(
        (await gateway.sessions()).items.some((s) => s.sid === sid),
        true,
        'a session of the gateway',
      )

      await page.fill('[data-testid="event"]', 'echo')
      await page.fill('[data-testid="data"]', '{"hi":1}')
      await page.click('[data-testid="emit"]')
      await waitForText(page, 'log', /ack \{"ok":true\}/)
      await waitForText(page, 'log', /event echo \{"hi":1\} "\d+"/)

      await page.click('[data-testid="drop"]')
      await waitForText(page, 'log', /disconnect: forced close/)
      await waitForText(page, 'recovered', 'true')
      assert.equal(await text(page, 'sid'), sid)
      assert.deepEqual(errors, [])
      await page.click('[data-testid="disconnect"]')
      await page.close()
    })
  }
})
