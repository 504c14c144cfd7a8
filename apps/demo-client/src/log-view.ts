import { clockTime, element, trimChildren } from './dom.js'

export type LogDirection = 'in' | 'out' | 'page'
export type LogKind = 'event' | 'reply' | 'reply-error' | 'error' | 'warning' | 'info'

export interface LogEntry {
  direction: LogDirection
  kind: LogKind
  /** One line: what the frame is. */
  title: string
  /** The frame itself, when there is one. */
  body?: string
}

const DIRECTION_LABEL: Record<LogDirection, string> = { in: '↓ received', out: '↑ sent', page: '• page' }
const KIND_LABEL: Record<LogKind, string> = {
  event: 'event',
  reply: 'reply',
  'reply-error': 'reply: error',
  error: 'error',
  warning: 'protocol warning',
  info: 'info',
}

/** One line per frame: the JSON re-serialised without the sender's whitespace, or the text as it came. */
function compact(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text))
  } catch {
    return text
  }
}

/**
 * The frame log: newest at the bottom, bounded, follows new entries while scrolled to the end.
 * Entries are rendered in batches, so that a burst of frames costs one layout, not one each.
 */
export class LogView {
  #queue: HTMLLIElement[] = []
  #flushTimer: ReturnType<typeof setTimeout> | undefined
  readonly #scroller: HTMLElement
  readonly #list: HTMLOListElement
  readonly #max: number
  readonly #batchMs: number

  constructor(scroller: HTMLElement, list: HTMLOListElement, max = 400, batchMs = 30) {
    this.#scroller = scroller
    this.#list = list
    this.#max = max
    this.#batchMs = batchMs
  }

  add(entry: LogEntry): void {
    const item = element('li', `entry ${entry.direction} kind-${entry.kind}`)
    item.dataset.testid = 'frame'
    item.dataset.direction = entry.direction
    item.dataset.kind = entry.kind

    const head = element('div', 'entry-head')
    head.append(
      element('time', 'time', clockTime()),
      element('span', 'direction', DIRECTION_LABEL[entry.direction]),
      element('span', `badge badge-${entry.kind}`, KIND_LABEL[entry.kind]),
      element('span', 'title', entry.title),
    )
    item.append(head)
    if (entry.body !== undefined) item.append(element('code', 'body', compact(entry.body)))

    this.#queue.push(item)
    if (this.#queue.length > this.#max) this.#queue.splice(0, this.#queue.length - this.#max)
    this.#flushTimer ??= setTimeout(() => this.#flush(), this.#batchMs)
  }

  clear(): void {
    this.#queue = []
    this.#list.replaceChildren()
  }

  #flush(): void {
    this.#flushTimer = undefined
    const atEnd = this.#scroller.scrollHeight - this.#scroller.scrollTop - this.#scroller.clientHeight < 40
    this.#list.append(...this.#queue)
    this.#queue = []
    trimChildren(this.#list, this.#max)
    if (atEnd) this.#scroller.scrollTop = this.#scroller.scrollHeight
  }
}
