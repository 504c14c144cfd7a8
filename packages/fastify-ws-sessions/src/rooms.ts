const EMPTY: ReadonlySet<string> = new Set()

/** Room membership both ways: room -> SIDs and SID -> rooms. Empty entries are deleted. */
export class Rooms {
  readonly #members = new Map<string, Set<string>>()
  readonly #roomsBySid = new Map<string, Set<string>>()

  /** Number of non-empty rooms. */
  get size(): number {
    return this.#members.size
  }

  has(sid: string, room: string): boolean {
    return this.#roomsBySid.get(sid)?.has(room) ?? false
  }

  /** Rooms the SID is in. */
  countOf(sid: string): number {
    return this.#roomsBySid.get(sid)?.size ?? 0
  }

  join(sid: string, room: string): void {
    let members = this.#members.get(room)
    if (!members) {
      members = new Set()
      this.#members.set(room, members)
    }
    members.add(sid)
    let rooms = this.#roomsBySid.get(sid)
    if (!rooms) {
      rooms = new Set()
      this.#roomsBySid.set(sid, rooms)
    }
    rooms.add(room)
  }

  leave(sid: string, room: string): void {
    const members = this.#members.get(room)
    if (members?.delete(sid) && members.size === 0) this.#members.delete(room)
    const rooms = this.#roomsBySid.get(sid)
    if (rooms?.delete(room) && rooms.size === 0) this.#roomsBySid.delete(sid)
  }

  /** Removes the SID from every room it is in. */
  removeSession(sid: string): void {
    const rooms = this.#roomsBySid.get(sid)
    if (!rooms) return
    this.#roomsBySid.delete(sid)
    for (const room of rooms) {
      const members = this.#members.get(room)
      if (members?.delete(sid) && members.size === 0) this.#members.delete(room)
    }
  }

  /** The live member set (do not mutate); empty for an unknown room. */
  membersView(room: string): ReadonlySet<string> {
    return this.#members.get(room) ?? EMPTY
  }

  /** The live room set of a SID (do not mutate); empty for an unknown SID. */
  roomsView(sid: string): ReadonlySet<string> {
    return this.#roomsBySid.get(sid) ?? EMPTY
  }
}
