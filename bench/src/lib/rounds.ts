/**
 * Gateway and baseline are measured in alternating rounds (ABBA order), and each side's figure is
 * its best round: other work on this shared two-core machine comes in bursts and only ever slows a
 * round down, so the best round is the one least disturbed. Every round is kept in the JSON, with
 * the CPU the rest of the machine used meanwhile.
 */
export async function interleaved<T>(
  rounds: number,
  sides: { baseline: () => Promise<T>; gateway: () => Promise<T> },
  log: (message: string) => void,
): Promise<{ baseline: T[]; gateway: T[] }> {
  const out = { baseline: [] as T[], gateway: [] as T[] }
  for (let r = 0; r < rounds; r++) {
    const order: Array<'baseline' | 'gateway'> =
      r % 2 === 0 ? ['baseline', 'gateway'] : ['gateway', 'baseline']
    for (const side of order) {
      log(`  round ${r + 1}/${rounds}: ${side}`)
      out[side].push(await sides[side]())
    }
  }
  return out
}

/** The element with the highest `key`. */
export function bestBy<T>(items: T[], key: (item: T) => number): T {
  if (items.length === 0) throw new Error('bestBy: no items')
  return items.reduce((best, item) => (key(item) > key(best) ? item : best))
}
