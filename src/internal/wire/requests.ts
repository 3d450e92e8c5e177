/**
 * The requests in flight on one side of a link, by request id: a slot array indexed by the id's low
 * bits, not a `Map`. A `Map` that is set and deleted on every call rehashes into a new table every few
 * dozen calls, and V8 links each discarded table to its successor; once one of them has been promoted
 * (the link sat idle while another part of the program allocated), every later table and the calls it
 * holds survive young-generation GCs. docs/architecture.md (decision 19) has the measurement.
 */

/** Slots beyond which colliding ids go to an overflow `Map` instead of growing the array further. */
const MAX_SLOTS = 1 << 16

export class Requests<V> {
  private keys: Array<number> = new Array<number>(64).fill(-1)
  private values: Array<V | undefined> = new Array<V | undefined>(64).fill(undefined)
  private mask = 63
  // ids whose slot holds another live id: rare with sequential ids, possible with a peer's own ids
  private overflow: Map<number, V> | undefined = undefined
  size = 0

  get(id: number): V | undefined {
    const i = id & this.mask
    if (this.keys[i] === id) return this.values[i]
    return this.overflow?.get(id)
  }

  has(id: number): boolean {
    return this.get(id) !== undefined
  }

  set(id: number, value: V): void {
    // ids are never negative on the wire (frame.ts); -1 marks a free slot, so one would go astray there
    if (id < 0) throw new RangeError(`request id ${id}`)
    let i = id & this.mask
    if (this.keys[i] === id) {
      this.values[i] = value
      return
    }
    if (this.overflow?.has(id) === true) {
      this.overflow.set(id, value)
      return
    }
    while (this.keys[i] !== -1 && this.size * 2 >= this.keys.length && this.keys.length < MAX_SLOTS) {
      this.grow()
      i = id & this.mask
    }
    this.size++
    if (this.keys[i] === -1) {
      this.keys[i] = id
      this.values[i] = value
    } else (this.overflow ??= new Map()).set(id, value)
  }

  /** Removes `id`'s entry and returns it. */
  take(id: number): V | undefined {
    const i = id & this.mask
    if (this.keys[i] === id && id >= 0) {
      const value = this.values[i]
      this.keys[i] = -1
      this.values[i] = undefined
      this.size--
      return value
    }
    const value = this.overflow?.get(id)
    if (value !== undefined) {
      this.overflow!.delete(id)
      this.size--
    }
    return value
  }

  delete(id: number): boolean {
    return this.take(id) !== undefined
  }

  /** Removes every entry and returns them. */
  drain(): Array<V> {
    const out: Array<V> = []
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] !== -1) out.push(this.values[i]!)
    }
    if (this.overflow !== undefined) for (const v of this.overflow.values()) out.push(v)
    this.keys.fill(-1)
    this.values.fill(undefined)
    this.overflow = undefined
    this.size = 0
    return out
  }

  private grow(): void {
    const keys = this.keys
    const values = this.values
    const overflow = this.overflow
    const length = keys.length * 2
    this.keys = new Array<number>(length).fill(-1)
    this.values = new Array<V | undefined>(length).fill(undefined)
    this.mask = length - 1
    this.overflow = undefined
    this.size = 0
    for (let i = 0; i < keys.length; i++) if (keys[i] !== -1) this.set(keys[i]!, values[i]!)
    if (overflow !== undefined) for (const [id, v] of overflow) this.set(id, v)
  }
}
