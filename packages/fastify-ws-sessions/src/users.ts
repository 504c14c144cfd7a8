const EMPTY: ReadonlySet<string> = new Set()

/**
 * The user -> SIDs index of this node's sessions. A user with no session has no entry, so its
 * size is bounded by the sessions, and a lookup costs one map read whatever the node holds.
 */
export class Users {
  readonly #sidsByUser = new Map<string, Set<string>>()

  /** Users with at least one session. */
  get size(): number {
    return this.#sidsByUser.size
  }

  add(user: string, sid: string): void {
    let sids = this.#sidsByUser.get(user)
    if (!sids) {
      sids = new Set()
      this.#sidsByUser.set(user, sids)
    }
    sids.add(sid)
  }

  remove(user: string, sid: string): void {
    const sids = this.#sidsByUser.get(user)
    if (sids?.delete(sid) && sids.size === 0) this.#sidsByUser.delete(user)
  }

  /** The live SID set of a user, oldest session first (do not mutate); empty for an unknown user. */
  sidsView(user: string): ReadonlySet<string> {
    return this.#sidsByUser.get(user) ?? EMPTY
  }
}
