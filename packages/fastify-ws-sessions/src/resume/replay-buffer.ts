/** An event frame kept for replay: its seq, and its text as encoded without seq. */
export interface KeptFrame {
  seq: number
  text: string
}

export interface ReplayBounds {
  maxFrames: number
  maxBytes: number
}

/**
 * What every session of a node keeps for replay, in bytes (characters of the frames' text), bounded.
 * Frames kept by live connections (against a dying TCP connection) give way first when the bound is
 * reached: `reclaim` empties them, oldest holder first, before a detached session has to end.
 */
export class ReplayBudget {
  readonly max: number
  #bytes = 0
  readonly #live = new Set<ReplayBuffer>()

  constructor(max: number) {
    this.max = max
  }

  get bytes(): number {
    return this.#bytes
  }

  add(n: number): void {
    this.#bytes += n
  }

  remove(n: number): void {
    this.#bytes -= n
  }

  /** Marks a buffer as a live connection's (reclaimable) or not. */
  setLive(buffer: ReplayBuffer, live: boolean): void {
    if (live && buffer.count > 0) this.#live.add(buffer)
    else this.#live.delete(buffer)
  }

  /** Empties live connections' buffers, oldest holder first, until `needed` more bytes fit. */
  reclaim(needed: number, except?: ReplayBuffer): boolean {
    for (const buffer of this.#live) {
      if (this.#bytes + needed <= this.max) break
      if (buffer !== except) buffer.clear()
    }
    return this.#bytes + needed <= this.max
  }
}

/**
 * The frames one session keeps: always the contiguous run `firstSeq .. firstSeq + count - 1`, which
 * ends at the session's last seq (a frame that cannot be kept empties it and moves `firstSeq` past it,
 * so that a resume from before it is a gap, never a hole).
 */
export class ReplayBuffer {
  readonly #budget: ReplayBudget
  readonly #bounds: ReplayBounds
  #texts: string[] = []
  #head = 0
  #bytes = 0
  #firstSeq: number
  #live = true

  constructor(budget: ReplayBudget, bounds: ReplayBounds, nextSeq: number) {
    this.#budget = budget
    this.#bounds = bounds
    this.#firstSeq = nextSeq
  }

  get count(): number {
    return this.#texts.length - this.#head
  }

  get bytes(): number {
    return this.#bytes
  }

  /** The seq the next frame gets. */
  get nextSeq(): number {
    return this.#firstSeq + this.count
  }

  /** Live: frames are the tail of what was sent, and give way to bounds. Detached: they must all stay. */
  setLive(live: boolean): void {
    this.#live = live
    this.#budget.setLive(this, live)
  }

  /**
   * Keeps the next frame (seq = `nextSeq`). Live: the oldest frames give way to the bounds; a frame
   * that still cannot fit empties the buffer. Detached: false when it does not fit (the session must end).
   */
  push(text: string): boolean {
    const size = text.length
    const { maxFrames, maxBytes } = this.#bounds
    if (!this.#live) {
      if (this.count + 1 > maxFrames || this.#bytes + size > maxBytes) return false
      if (this.#budget.bytes + size > this.#budget.max && !this.#budget.reclaim(size, this)) return false
      this.#append(text)
      return true
    }
    if (size > maxBytes || size > this.#budget.max) {
      this.#skip()
      return true
    }
    while (this.count > 0 && (this.count + 1 > maxFrames || this.#bytes + size > maxBytes)) this.#dropOldest()
    while (this.count > 0 && this.#budget.bytes + size > this.#budget.max) this.#dropOldest()
    if (this.#budget.bytes + size > this.#budget.max && !this.#budget.reclaim(size, this)) {
      this.#skip()
      return true
    }
    this.#append(text)
    this.#budget.setLive(this, true)
    return true
  }

  /** Frames with seq > `lastSeq`, or undefined when some of them are no longer kept (a gap). */
  after(lastSeq: number): KeptFrame[] | undefined {
    if (lastSeq + 1 < this.#firstSeq) return undefined
    const out: KeptFrame[] = []
    for (let seq = Math.max(lastSeq + 1, this.#firstSeq); seq < this.nextSeq; seq++) {
      out.push({ seq, text: this.#texts[this.#head + seq - this.#firstSeq] as string })
    }
    return out
  }

  /** Loads frames handed over by another node (consecutive seqs ending at `nextSeq - 1`). */
  load(frames: readonly KeptFrame[], nextSeq: number): void {
    this.clear()
    this.#firstSeq = nextSeq - frames.length
    for (const frame of frames) this.push(frame.text)
  }

  /** Drops every frame; the next frame keeps its seq. */
  clear(): void {
    const next = this.nextSeq
    this.#budget.remove(this.#bytes)
    this.#texts = []
    this.#head = 0
    this.#bytes = 0
    this.#firstSeq = next
    this.#budget.setLive(this, false)
  }

  #append(text: string): void {
    this.#texts.push(text)
    this.#bytes += text.length
    this.#budget.add(text.length)
  }

  /** A frame that is sent but cannot be kept: nothing before it can be replayed any more. */
  #skip(): void {
    this.clear()
    this.#firstSeq++
  }

  #dropOldest(): void {
    const text = this.#texts[this.#head] as string
    this.#texts[this.#head] = ''
    this.#head++
    this.#firstSeq++
    this.#bytes -= text.length
    this.#budget.remove(text.length)
    if (this.#head > 64 && this.#head * 2 > this.#texts.length) {
      this.#texts = this.#texts.slice(this.#head)
      this.#head = 0
    }
  }
}
