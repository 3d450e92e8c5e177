/**
 * The link's table of requests in flight (src/internal/wire/requests.ts): it must behave exactly like
 * a Map from id to request, whatever the ids: sequential ones (our own calls), colliding ones (a
 * peer's), more in flight than it has slots.
 */
import { describe, expect, it } from "@effect/vitest"
import { Requests } from "../src/internal/wire/requests.ts"

/** A small seeded generator (mulberry32), so that a failure names a reproducible seed. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const expectSame = (table: Requests<string>, model: Map<number, string>, probe: Iterable<number>) => {
  expect(table.size).toBe(model.size)
  for (const id of probe) expect(table.get(id)).toBe(model.get(id))
}

describe("Requests", () => {
  it("finds, replaces, takes and deletes by id", () => {
    const table = new Requests<string>()
    table.set(1, "a")
    table.set(2, "b")
    table.set(1, "a2")
    expect(table.get(1)).toBe("a2")
    expect(table.has(2)).toBe(true)
    expect(table.size).toBe(2)
    expect(table.take(1)).toBe("a2")
    expect(table.take(1)).toBeUndefined()
    expect(table.delete(2)).toBe(true)
    expect(table.delete(2)).toBe(false)
    expect(table.size).toBe(0)
    // -1 marks a free slot inside the table: it must never look like an entry
    expect(table.take(-1)).toBeUndefined()
    expect(table.get(-1)).toBeUndefined()
    expect(table.size).toBe(0)
    expect(() => table.set(-1, "x")).toThrow(RangeError)
  })

  it("keeps ids that share a slot apart, and a reply to a finished id finds nothing", () => {
    const table = new Requests<string>()
    // 5, 69 and 133 share slot 5 of the first 64 slots
    table.set(5, "five")
    table.set(69, "sixty-nine")
    table.set(133, "one-three-three")
    expect([table.get(5), table.get(69), table.get(133)]).toEqual(["five", "sixty-nine", "one-three-three"])
    expect(table.take(5)).toBe("five")
    expect(table.get(5)).toBeUndefined()
    expect(table.get(69)).toBe("sixty-nine")
    // the slot is free again, but an id that used it before must not see the new entry
    table.set(197, "one-nine-seven")
    expect(table.get(5)).toBeUndefined()
    expect(table.get(197)).toBe("one-nine-seven")
  })

  it("grows past its first slots and drains everything it holds", () => {
    const table = new Requests<string>()
    for (let id = 1; id <= 10_000; id++) table.set(id, `r${id}`)
    expect(table.size).toBe(10_000)
    expect(table.get(1)).toBe("r1")
    expect(table.get(10_000)).toBe("r10000")
    const drained = table.drain()
    expect(drained).toHaveLength(10_000)
    expect(new Set(drained).size).toBe(10_000)
    expect(table.size).toBe(0)
    expect(table.get(1)).toBeUndefined()
  })

  it("behaves as a Map under seeded random operations, with sequential and arbitrary ids", () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const next = random(seed)
      const table = new Requests<string>()
      const model = new Map<number, string>()
      const seen = new Set<number>()
      let sequential = 0
      for (let step = 0; step < 20_000; step++) {
        const r = next()
        if (r < 0.45) {
          // our own ids: sequential; a peer's: anything in range, often colliding
          const id = next() < 0.7 ? ++sequential : Math.floor(next() * 0x7fffffff)
          table.set(id, `v${step}`)
          model.set(id, `v${step}`)
          seen.add(id)
        } else if (r < 0.9) {
          const ids = Array.from(model.keys())
          const id = ids.length > 0 && next() < 0.9 ? ids[Math.floor(next() * ids.length)]! : Math.floor(next() * 1000)
          expect(table.take(id)).toBe(model.get(id))
          model.delete(id)
        } else if (r < 0.9005) {
          expect(table.drain().sort()).toEqual(Array.from(model.values()).sort())
          model.clear()
        }
      }
      expectSame(table, model, seen)
    }
  })
})
