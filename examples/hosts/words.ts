/**
 * Host module of examples/refs-in-messages.ts: a Tally that collects reports, a Cache, and a
 * WordCounter that is handed refs to both inside its payload and uses them from wherever it runs.
 */
import { Effect, Layer, Ref, Schema } from "effect"
import { Actor, ActorSystem } from "troupe"

export class NotCached extends Schema.TaggedError<NotCached>()("NotCached", { key: Schema.String }) {}

export const Tally = Actor.make("Tally", {
  record: { payload: { node: Schema.String, words: Schema.Number }, cast: true },
  total: { success: Schema.Struct({ reports: Schema.Number, words: Schema.Number }) }
})

export const Cache = Actor.make("Cache", {
  put: { payload: { key: Schema.String, words: Schema.Number } },
  get: { payload: { key: Schema.String }, success: Schema.Number, error: NotCached },
  size: { success: Schema.Number }
})

export const WordCounter = Actor.make("WordCounter", {
  /** Counts the words of `text`, asking the cache first; reports every count to the tally. */
  count: {
    payload: { text: Schema.String, tally: Tally.Ref, cache: Cache.Ref },
    success: Schema.Struct({ words: Schema.Number, cached: Schema.Boolean })
  },
  /** Spawns a Cache on this node and hands out its ref. */
  openCache: { payload: { id: Schema.String }, success: Cache.Ref }
})

export const TallyLive = Tally.toLayer(
  Effect.gen(function* () {
    const total = yield* Ref.make({ reports: 0, words: 0 })
    return Tally.of({
      record: ({ words }) => Ref.update(total, (t) => ({ reports: t.reports + 1, words: t.words + words })),
      total: () => Ref.get(total)
    })
  })
)

export const CacheLive = Cache.toLayer(
  Effect.sync(() => {
    const entries = new Map<string, number>()
    return Cache.of({
      put: ({ key, words }) => void entries.set(key, words),
      get: ({ key }) => {
        const words = entries.get(key)
        return words === undefined ? Effect.fail(new NotCached({ key })) : Effect.succeed(words)
      },
      size: () => entries.size
    })
  })
)

export const WordCounterLive = WordCounter.toLayer(
  Effect.gen(function* () {
    const { nodeId } = yield* ActorSystem.ActorSystem
    return WordCounter.of({
      count: ({ text, tally, cache }) =>
        Effect.gen(function* () {
          // the declared error travels typed, whichever node the cache is on
          const hit = yield* cache.get({ key: text }).pipe(
            Effect.map((words) => ({ words, cached: true })),
            Effect.catchTag("NotCached", () => Effect.succeed(undefined))
          )
          const result = hit ?? { words: text.split(/\s+/).filter(Boolean).length, cached: false }
          if (hit === undefined) yield* cache.put({ key: text, words: result.words })
          yield* tally.record({ node: nodeId, words: result.words })
          return result
        }),
      openCache: ({ id }) => Actor.spawn(Cache, { id })
    })
  })
).pipe(Layer.provide(CacheLive))
