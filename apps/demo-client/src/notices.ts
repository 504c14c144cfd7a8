import { clockTime, element, trimChildren } from './dom.js'

export type NoticeLevel = 'error' | 'warning' | 'success' | 'info'

const ICON: Record<NoticeLevel, string> = { error: '✕', warning: '!', success: '✓', info: 'i' }

/**
 * The messages a person needs to read (gateway down, refused input, rate limit…): newest on
 * top, a few at most, each dismissible. The region is aria-live, so they are announced.
 */
export class Notices {
  readonly #region: HTMLElement
  readonly #max: number

  constructor(region: HTMLElement, max = 4) {
    this.#region = region
    this.#max = max
  }

  show(level: NoticeLevel, title: string, detail?: string): void {
    const notice = element('div', `notice notice-${level}`)
    notice.dataset.testid = 'notice'
    notice.dataset.level = level

    const icon = element('span', 'notice-icon', ICON[level])
    icon.setAttribute('aria-hidden', 'true')
    const text = element('div', 'notice-text')
    text.append(element('strong', 'notice-title', title))
    if (detail) text.append(element('span', 'notice-detail', detail))
    const time = element('time', 'notice-time', clockTime().slice(0, 8))

    const dismiss = element('button', 'notice-dismiss', '×')
    dismiss.type = 'button'
    dismiss.setAttribute('aria-label', `Dismiss: ${title}`)
    dismiss.addEventListener('click', () => notice.remove())

    notice.append(icon, text, time, dismiss)
    this.#region.prepend(notice)
    trimChildren(this.#region, this.#max, true)
  }

  /** Removes the notices of one topic (e.g. the "disconnected" one once the page is back). */
  clear(topic?: string): void {
    for (const notice of Array.from(this.#region.children)) {
      if (topic === undefined || (notice as HTMLElement).dataset.topic === topic) notice.remove()
    }
  }

  /** Like `show`, but replaces the earlier notice of the same topic. */
  showTopic(topic: string, level: NoticeLevel, title: string, detail?: string): void {
    this.clear(topic)
    this.show(level, title, detail)
    const first = this.#region.firstElementChild as HTMLElement | null
    if (first) first.dataset.topic = topic
  }
}
