import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Locator, type Page } from 'playwright-core'
import type { WireConnection } from './wire-contract.js'

const here = dirname(fileURLToPath(import.meta.url))
export const ARTIFACTS = join(here, '../../../../test-artifacts')
export const DOCS_SCREENSHOT = join(here, '../../../../docs/demo-page.png')

/** Debian's Chromium, headless; never a downloaded browser. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.TEST_CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** A page of the demo, with the uncaught errors it threw and its WebSocket connections' frames. */
export interface DemoTab {
  page: Page
  errors: string[]
  connections: WireConnection[]
}

export async function openDemo(browser: Browser, url: string): Promise<DemoTab> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  // Every frame as the browser sent and received it, for the test's own reading of the contract.
  const connections: WireConnection[] = []
  page.on('websocket', (ws) => {
    const connection: WireConnection = { url: ws.url(), sent: [], received: [] }
    connections.push(connection)
    const text = (payload: string | Buffer) => (typeof payload === 'string' ? payload : undefined)
    ws.on('framesent', ({ payload }) => connection.sent.push(text(payload)))
    ws.on('framereceived', ({ payload }) => connection.received.push(text(payload)))
  })
  await page.goto(url)
  return { page, errors, connections }
}

/** Waits for the state pill to show `state`; returns its text. */
export async function waitForState(page: Page, state: string, timeout = 10_000): Promise<string> {
  const pill = page.locator(`[data-testid="conn-status"][data-state="${state}"]`)
  await pill.waitFor({ timeout })
  return (await pill.textContent()) ?? ''
}

/** Waits until the page shows the SID of an open session, and returns it. */
export async function currentSid(page: Page, timeout = 10_000): Promise<string> {
  const sid = page.locator('[data-testid="sid"][data-current="true"]')
  await sid.waitFor({ timeout })
  return ((await sid.textContent()) ?? '').trim()
}

/** The element(s) of `testId` that contain `text`. */
export function withText(page: Page, testId: string, text: string | RegExp): Locator {
  return page.getByTestId(testId).filter({ hasText: text })
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path })
  return path
}
