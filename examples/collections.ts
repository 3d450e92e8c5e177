/**
 * Collections through Schemas: arrays, ReadonlyMaps (with string and number keys), ReadonlySets, a
 * Record and a Tuple go to a Library actor and back, in-process, in a worker thread and in a child
 * process. Maps and Sets arrive as Maps and Sets (CBOR carries them natively), checked by the Schema.
 * (Effect's own Option, HashMap, HashSet, Chunk, DateTime and Duration cross too, in their canonical
 * JSON form; see "Values" in docs/backends.md.)
 * Run: npx tsx examples/collections.ts
 */
import { Effect, Layer } from "effect"
import { Actor, ActorRef } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { type Book, Library, LibraryLive } from "./hosts/library.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/library.ts", import.meta.url)

const book = (title: string, year: number, tags: Array<string>, ratings: Record<string, number>): Book => ({
  title,
  year,
  tags: new Set(tags),
  ratings: new Map(Object.entries(ratings))
})
const books = [
  book("Dune", 1965, ["sf", "classic"], { ada: 5, bob: 4 }),
  book("Neuromancer", 1984, ["sf", "cyberpunk"], { ada: 4 }),
  book("Emma", 1815, ["classic", "romance"], { bob: 3, cy: 5 }),
  book("Snow Crash", 1992, ["sf", "cyberpunk"], {}),
  book("Weeded Out", 2001, ["misc"], {})
]

const exercise = (label: string, library: ActorRef.ActorRef<typeof Library>) =>
  Effect.gen(function* () {
    yield* check(`${label}: an array of five books in`, yield* library.add({ books }), 5)
    yield* check(`${label}: one removed`, yield* library.remove({ title: "Weeded Out" }), 4)
    const byTag = yield* library.byTag()
    const byDecade = yield* library.byDecade()
    yield* check(
      `${label}: Maps of Sets arrive as Maps of Sets`,
      byTag instanceof Map && [...byTag.values()].every((titles) => titles instanceof Set),
      true
    )
    yield* check(
      `${label}: titles by tag`,
      Array.from(byTag, ([tag, titles]) => [tag, [...titles]]),
      [
        ["sf", ["Dune", "Neuromancer", "Snow Crash"]],
        ["classic", ["Dune", "Emma"]],
        ["cyberpunk", ["Neuromancer", "Snow Crash"]],
        ["romance", ["Emma"]]
      ]
    )
    yield* check(
      `${label}: a Map with number keys`,
      [...byDecade],
      [
        [1960, ["Dune"]],
        [1980, ["Neuromancer"]],
        [1810, ["Emma"]],
        [1990, ["Snow Crash"]]
      ]
    )
    yield* check(`${label}: a Record`, yield* library.averages(), { Dune: 4.5, Neuromancer: 4, Emma: 4 })
    yield* check(`${label}: a Tuple`, yield* library.oldest(), ["Emma", 1815])
  })

const program = Effect.gen(function* () {
  yield* exercise("in-process", yield* Actor.spawn(Library, { id: "library" }))
  yield* exercise("worker thread", yield* Actor.spawn(Library, { id: "library", backend: Workers }))
  yield* exercise("child process", yield* Actor.spawn(Library, { id: "library", backend: Subprocess }))
})

run(program.pipe(Effect.provide(Layer.mergeAll(LibraryLive, Workers.layer({ host }), Subprocess.layer({ host })))))
