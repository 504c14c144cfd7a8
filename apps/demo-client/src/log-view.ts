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

/** The frame log: newest at the bottom, bounded, follows new entries while scrolled to the end. */
export class LogView {
  constructor(
    private readonly scroller: HTMLElement,
    private readonly list: HTMLOListElement,
    private readonly max = 400,
  ) {}

  add(entry: LogEntry): void {
    const atEnd = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 40
    const item = element('li', `entry ${entry.direction} kind-${entry.kind}`)
    item.dataset.testid = 'frame'
    item.dataset.direction = entry.direction
    item.dataset.kind = entry.kind

    const head = element('div', 'entry-head')
    const time = element('time', 'time', clockTime())
    head.append(
      time,
      element('span', 'direction', DIRECTION_LABEL[entry.direction]),
      element('span', `badge badge-${entry.kind}`, KIND_LABEL[entry.kind]),
      element('span', 'title', entry.title),
    )
    item.append(head)
    if (entry.body !== undefined) item.append(element('code', 'body', compact(entry.body)))

    this.list.append(item)
    trimChildren(this.list, this.max)
    if (atEnd) this.scroller.scrollTop = this.scroller.scrollHeight
  }

  clear(): void {
    this.list.replaceChildren()
  }
}
