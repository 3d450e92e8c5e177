/**
 * Host module for examples/collections.ts: a Library that keeps a growing list of books (the Zig
 * seed's array-list actor) and answers with Maps, Sets, Records and Tuples, all described by Schemas.
 */
import { Effect, Ref, Schema } from "effect"
import { Actor } from "troupe"

export const Book = Schema.Struct({
  title: Schema.String,
  year: Schema.Int,
  tags: Schema.ReadonlySet(Schema.String),
  ratings: Schema.ReadonlyMap(Schema.String, Schema.Number) // reader -> stars
})
export type Book = typeof Book.Type

export const Library = Actor.make("Library", {
  add: { payload: { books: Schema.Array(Book) }, success: Schema.Number },
  remove: { payload: { title: Schema.String }, success: Schema.Number },
  /** tag -> titles */
  byTag: { success: Schema.ReadonlyMap(Schema.String, Schema.ReadonlySet(Schema.String)) },
  /** decade -> titles: a Map with number keys */
  byDecade: { success: Schema.ReadonlyMap(Schema.Number, Schema.Array(Schema.String)) },
  /** title -> mean rating, for the rated books */
  averages: { success: Schema.Record(Schema.String, Schema.Number) },
  oldest: { success: Schema.Tuple([Schema.String, Schema.Int]) }
})

const group = <K, V>(entries: Iterable<readonly [K, V]>) => {
  const groups = new Map<K, Array<V>>()
  for (const [k, v] of entries) groups.set(k, [...(groups.get(k) ?? []), v])
  return groups
}

export const LibraryLive = Library.toLayer(
  Effect.gen(function* () {
    const shelf = yield* Ref.make<ReadonlyArray<Book>>([])
    const read = <A>(f: (books: ReadonlyArray<Book>) => A) => Effect.map(Ref.get(shelf), f)
    return Library.of({
      add: ({ books }) => Ref.updateAndGet(shelf, (s) => [...s, ...books]).pipe(Effect.map((s) => s.length)),
      remove: ({ title }) =>
        Ref.updateAndGet(shelf, (s) => s.filter((b) => b.title !== title)).pipe(Effect.map((s) => s.length)),
      byTag: () =>
        read((books) => {
          const groups = group(books.flatMap((b) => [...b.tags].map((tag) => [tag, b.title] as const)))
          return new Map(Array.from(groups, ([tag, titles]) => [tag, new Set(titles)]))
        }),
      byDecade: () => read((books) => group(books.map((b) => [Math.floor(b.year / 10) * 10, b.title] as const))),
      averages: () =>
        read((books) =>
          Object.fromEntries(
            books
              .filter((b) => b.ratings.size > 0)
              .map((b) => [b.title, [...b.ratings.values()].reduce((x, y) => x + y) / b.ratings.size])
          )
        ),
      oldest: () =>
        read((books) => {
          const oldest = books.reduce((a, b) => (b.year < a.year ? b : a))
          return [oldest.title, oldest.year] as const
        })
    })
  })
)
