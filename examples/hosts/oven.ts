/**
 * Host module for examples/supervision-tree.ts: an Oven that bakes, and can overheat (a defect).
 */
import { Effect, Schema } from "effect"
import { Actor } from "troupe"

export const Oven = Actor.make("Oven", {
  bake: { payload: { loaf: Schema.String }, success: Schema.String },
  overheat: {}
})

export const OvenLive = Oven.toLayer(
  Effect.succeed(
    Oven.of({
      bake: ({ loaf }) => Effect.succeed(`${loaf}, baked`),
      overheat: () => Effect.die(new Error("the oven overheated"))
    })
  )
)
