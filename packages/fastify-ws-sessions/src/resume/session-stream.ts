import { type KeptFrame, type ReplayBounds, type ReplayBudget, ReplayBuffer } from './replay-buffer.js'

/** What every session stream of a node shares. */
export interface StreamContext {
  budget: ReplayBudget
  bounds: ReplayBounds
}

/**
 * A session's event frames with resume on: their `seq` (1, 2, … across every connection of the
 * session), the frames kept for replay (made on the first frame: an idle session keeps nothing), and
 * the generation of its resume token (each resume moves it on, so a token is good for one resume).
 */
export class SessionStream {
  readonly #context: StreamContext
  #buffer: ReplayBuffer | undefined
  #nextSeq: number
  #live = true
  generation: number

  constructor(context: StreamContext, nextSeq = 1, generation = 0) {
    this.#context = context
    this.#nextSeq = nextSeq
    this.generation = generation
  }

  /** The seq the next frame gets. */
  get nextSeq(): number {
    return this.#buffer?.nextSeq ?? this.#nextSeq
  }

  /** Characters of frame text kept. */
  get keptBytes(): number {
    return this.#buffer?.bytes ?? 0
  }

  get keptFrames(): number {
    return this.#buffer?.count ?? 0
  }

  /** Numbers and keeps the next frame; returns its seq, or 0 when a detached session cannot keep it. */
  keep(text: string): number {
    this.#buffer ??= this.#newBuffer(this.#nextSeq)
    const seq = this.#buffer.nextSeq
    return this.#buffer.push(text) ? seq : 0
  }

  /** Frames with seq > `lastSeq`, or undefined when one of them is no longer kept. */
  after(lastSeq: number): KeptFrame[] | undefined {
    if (!this.#buffer) return lastSeq + 1 < this.#nextSeq ? undefined : []
    return this.#buffer.after(lastSeq)
  }

  /** Live: the kept frames may give way to the bounds. Detached: every next frame must be kept. */
  setLive(live: boolean): void {
    this.#live = live
    this.#buffer?.setLive(live)
  }

  /** Installs frames handed over by another node. */
  load(frames: readonly KeptFrame[], nextSeq: number): void {
    this.release()
    if (frames.length === 0) {
      this.#nextSeq = nextSeq
      return
    }
    this.#buffer = this.#newBuffer(nextSeq)
    this.#buffer.load(frames, nextSeq)
  }

  /** Gives every kept byte back to the node (the session ended or moved). */
  release(): void {
    if (!this.#buffer) return
    this.#nextSeq = this.#buffer.nextSeq
    this.#buffer.clear()
    this.#buffer = undefined
  }

  #newBuffer(nextSeq: number): ReplayBuffer {
    const buffer = new ReplayBuffer(this.#context.budget, this.#context.bounds, nextSeq)
    buffer.setLive(this.#live)
    return buffer
  }
}
