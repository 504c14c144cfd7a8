/** The element with `data-testid="<id>"`, checked to be of the expected kind. */
export function byTestId<T extends HTMLElement>(
  id: string,
  kind: new () => T,
  root: ParentNode = document,
): T {
  const found = root.querySelector(`[data-testid="${id}"]`)
  if (!(found instanceof kind)) throw new Error(`the page has no <${kind.name}> with data-testid="${id}"`)
  return found
}

/** A new element with a class and text (text only: nothing from the wire is ever parsed as HTML). */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (className) el.className = className
  if (text !== undefined) el.textContent = text
  return el
}

/** "14:03:07.123" */
export function clockTime(date = new Date()): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0')
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`
}

/** Keeps at most `max` children, dropping the oldest (the first ones, or the last ones when `newestFirst`). */
export function trimChildren(list: Element, max: number, newestFirst = false): void {
  while (list.children.length > max) {
    const victim = newestFirst ? list.lastElementChild : list.firstElementChild
    victim?.remove()
  }
}
