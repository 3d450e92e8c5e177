/**
 * Host module for examples/inspector.ts: a restaurant kitchen whose stations cook dishes (some slower
 * than others, some orders for dishes that are off the menu) and announce them on a topic. Loaded
 * in-process and in each worker and child, so the inspector has something to show on every node.
 */
import { Effect, Schema } from "effect"
import { Actor, ActorContext, Topic } from "troupe"

export class OffTheMenu extends Schema.TaggedError<OffTheMenu>()("OffTheMenu", { dish: Schema.String }) {}

export const Served = Topic.make("served", Schema.Struct({ station: Schema.String, dish: Schema.String }))

const menu: Record<string, number> = { soup: 0, salad: 0, risotto: 2, souffle: 5 }

export const Station = Actor.make("Station", {
  /** Cooks a dish (risotto and souffle take a few milliseconds); an unknown dish is a typed error. */
  cook: { payload: { dish: Schema.String }, success: Schema.String, error: OffTheMenu },
  /** Dishes cooked so far. */
  cooked: { success: Schema.Number }
})

export const StationLive = Station.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    let cooked = 0
    return Station.of({
      cook: ({ dish }) => {
        const minutes = menu[dish]
        if (minutes === undefined) return Effect.fail(new OffTheMenu({ dish }))
        cooked++
        const done = Topic.publish(Served, { station: id, dish }).pipe(Effect.as(`${dish} by ${id}`))
        return minutes === 0 ? done : Effect.andThen(Effect.sleep(`${minutes} millis`), done)
      },
      cooked: () => Effect.succeed(cooked)
    })
  })
)
