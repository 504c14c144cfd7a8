import type { LinkSender, LinkSenderOptions } from './sender.js'

/**
 * Senders to addresses other than the User Manager's (send() targets, reply addresses), one per
 * address, each on its own session. Bounded LRU: past `max`, the least recently used idle sender is
 * closed. A sender whose link the broker refuses rejects its messages and leaves the cache.
 */
export class SenderCache {
  readonly #senders = new Map<string, LinkSender>()
  readonly #max: number
  readonly #create: (address: string, onChange: LinkSenderOptions['onChange']) => LinkSender

  constructor(max: number, create: (address: string, onChange: LinkSenderOptions['onChange']) => LinkSender) {
    this.#max = max
    this.#create = create
  }

  get size(): number {
    return this.#senders.size
  }

  get(address: string): LinkSender {
    let sender = this.#senders.get(address)
    if (sender) {
      this.#senders.delete(address)
      this.#senders.set(address, sender)
      return sender
    }
    sender = this.#create(address, (changed, failure) => {
      if (failure && this.#senders.get(address) === changed) {
        this.#senders.delete(address)
        changed.close()
      }
    })
    this.#senders.set(address, sender)
    this.#evict(address)
    return sender
  }

  #evict(keep: string): void {
    if (this.#senders.size <= this.#max) return
    for (const [address, sender] of this.#senders) {
      if (this.#senders.size <= this.#max) break
      if (address === keep || sender.pendingCount > 0) continue
      this.#senders.delete(address)
      sender.close()
    }
  }

  /** Re-creates the links of senders that hold messages (the others attach on their next use). */
  attachBusy(): void {
    for (const sender of this.#senders.values()) if (sender.pendingCount > 0) sender.attach()
  }

  connectionLost(): void {
    for (const sender of this.#senders.values()) sender.connectionLost()
  }

  closeAll(): void {
    for (const sender of this.#senders.values()) sender.close()
    this.#senders.clear()
  }
}
