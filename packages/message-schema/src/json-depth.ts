/**
 * True when the JSON text nests arrays/objects deeper than `maxDepth`.
 * A linear scan over the text, so deep input is refused before it reaches
 * anything recursive (JSON.stringify, structured clone, a consumer's walker).
 */
export function jsonTextExceedsDepth(text: string, maxDepth: number): boolean {
  // Depth d needs at least d opening brackets: short texts cannot exceed it.
  if (text.length <= maxDepth) return false
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

/** True when an already-built value nests deeper than `maxDepth` (iterative: never recurses). */
export function valueExceedsDepth(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number]
    if (node === null || typeof node !== 'object') continue
    if (depth + 1 > maxDepth) return true
    for (const child of Object.values(node)) stack.push([child, depth + 1])
  }
  return false
}
