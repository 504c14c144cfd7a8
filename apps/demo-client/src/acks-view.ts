import type { RequestOutcome } from '@session-gateway/client'
import { formatRtt } from './describe.js'
import { element, trimChildren } from './dom.js'

/** The table of replies: one row per request, newest on top, with its round-trip time. */
export class AcksView {
  readonly #body: HTMLTableSectionElement
  readonly #max: number

  constructor(body: HTMLTableSectionElement, max = 40) {
    this.#body = body
    this.#max = max
  }

  add(ack: RequestOutcome): void {
    const row = element('tr', ack.ok ? 'ok' : 'failed')
    row.dataset.testid = 'ack'
    if (ack.id !== undefined) row.dataset.id = String(ack.id)
    row.dataset.event = ack.event
    row.dataset.ok = String(ack.ok)

    const result = element('td', 'result')
    if (ack.ok) {
      result.append(element('span', 'badge badge-ok', 'ok'))
    } else {
      result.append(
        element('span', 'badge badge-fail', ack.error.code),
        element('span', 'why', ack.error.message),
      )
    }
    const rtt = element(
      'td',
      'num',
      !ack.ok && ack.error.code === 'NOT_CONNECTED' ? '—' : formatRtt(ack.rttMs),
    )
    rtt.dataset.testid = 'ack-rtt'
    row.append(
      element('td', 'num', ack.id === undefined ? '—' : `#${ack.id}`),
      element('td', 'event', ack.event),
      result,
      rtt,
    )

    this.#body.prepend(row)
    trimChildren(this.#body, this.#max, true)
  }
}
