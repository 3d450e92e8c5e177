/**
 * Host module for examples/dead-letters.ts: a Printer that takes pages as casts and can jam for a while
 * (its mailbox fills meanwhile).
 */
import { Effect, Ref, Schema } from "effect"
import { Actor } from "troupe"

export const Printer = Actor.make("Printer", {
  print: { payload: { page: Schema.Int }, cast: true },
  /** Holds the printer (and its mailbox) for `millis`. */
  jam: { payload: { millis: Schema.Int } },
  printed: { success: Schema.Array(Schema.Int) }
})

export const PrinterLive = Printer.toLayer(
  Effect.gen(function* () {
    const printed = yield* Ref.make<ReadonlyArray<number>>([])
    return Printer.of({
      print: ({ page }) => Ref.update(printed, (pages) => [...pages, page]),
      jam: ({ millis }) => Effect.sleep(millis),
      printed: () => Ref.get(printed)
    })
  })
)
