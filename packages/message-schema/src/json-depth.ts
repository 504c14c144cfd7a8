/** True when `text` holds at most `limit` `{` and `[` characters together. */
function atMostOpenings(text: string, limit: number): boolean {
  let count = 0
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > limit) return false
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++count > limit) return false
  return true
}

/**
 * True when the JSON text nests arrays/objects deeper than `maxDepth`.
 * A linear scan over the text, so deep input is refused before it reaches
 * anything recursive (JSON.stringify, structured clone, a consumer's walker).
 */
export function jsonTextExceedsDepth(text: string, maxDepth: number): boolean {
  // Depth d needs at least d opening brackets: short texts cannot exceed it, nor texts with at most
  // maxDepth of them (counted with indexOf, which runs natively; brackets inside strings count too,
  // which only ever sends a text on to the full scan). Most messages stop here.
  if (text.length <= maxDepth || atMostOpenings(text, maxDepth)) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92 /* \ */) i++
      else if (c === 34 /* " */) inString = false
    } else if (c === 34) inString = true
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > maxDepth) return true
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--
  }
  return false
}

/**
 * Why an already-built value is not plain JSON nested at most `maxDepth` deep, or undefined when it
 * is. Iterative, and it stops at the first problem, so neither deep nesting nor a large binary
 * costs more than the walk up to it. Refused: objects whose prototype is not Object.prototype or
 * null (a `__proto__` key decoded by an AMQP map reader sets the prototype, and fields read through
 * it would bypass every check), binaries, timestamps and other non-JSON values, non-finite numbers.
 */
export function jsonValueProblem(value: unknown, maxDepth: number): string | undefined {
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number]
    if (node === null || typeof node === 'string' || typeof node === 'boolean') continue
    if (typeof node === 'number') {
      if (Number.isFinite(node)) continue
      return 'holds a number that is not finite'
    }
    if (typeof node !== 'object') return `holds a ${typeof node}, which is not JSON`
    if (depth + 1 > maxDepth) return `nested deeper than ${maxDepth} levels`
    if (Array.isArray(node)) {
      for (const child of node) stack.push([child, depth + 1])
      continue
    }
    const proto = Object.getPrototypeOf(node)
    if (proto !== Object.prototype && proto !== null) {
      return ArrayBuffer.isView(node)
        ? 'holds binary data, which is not JSON'
        : 'holds an object that is not a plain JSON object (a "__proto__" key, a timestamp, …)'
    }
    for (const child of Object.values(node)) stack.push([child, depth + 1])
  }
  return undefined
}
