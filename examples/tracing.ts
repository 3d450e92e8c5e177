/**
 * One trace across actors. The program handles "POST /checkout" in a span; the in-process Shop actor's
 * handler calls Payments, which runs in a worker thread. Each handler runs in a child span of whoever
 * sent it the message, made by the tracer of the node it runs on, so the trace goes from the request,
 * through Shop, into the worker. (Here each node keeps its spans in memory; give your nodes an
 * OpenTelemetry tracer instead and the same tree appears in your tracing backend.)
 * Run: npx tsx examples/tracing.ts
 */
import { Effect, Layer, Schema } from "effect"
import { Actor, ActorSystem } from "troupe"
import { Workers } from "troupe/node"
import { Payments, Recording, spansOf } from "./hosts/payments.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/payments.ts", import.meta.url)

const Shop = Actor.make("Shop", { checkout: { payload: { order: Schema.String }, success: Schema.String } })
const ShopLive = Shop.toLayer(
  Effect.gen(function* () {
    const payments = yield* Payments
    return Shop.of({ checkout: ({ order }) => payments.charge({ order, cents: 4200 }) })
  })
).pipe(Layer.provide(Recording))

const program = Effect.gen(function* () {
  const shop = yield* Actor.spawn(Shop, { id: "shop" })
  const { receipt, traceId, rootId } = yield* Effect.gen(function* () {
    const receipt = yield* shop.checkout({ order: "order-7" })
    const span = yield* Effect.currentSpan
    return { receipt, traceId: span.traceId, rootId: span.spanId }
  }).pipe(Effect.withSpan("POST /checkout"))
  console.log(`  ${receipt}`)

  const here = spansOf(traceId) // the root and Shop.checkout, made in this process
  const there = yield* (yield* Payments).spans({ traceId }) // Payments.charge, made in the worker
  const shopSpan = here.find((s) => s.name === "Shop.checkout")
  console.log("  POST /checkout (this process)")
  console.log(`  └─ ${shopSpan?.name} (this process)`)
  for (const s of there) console.log(`     └─ ${s.name} (the worker thread)`)
  yield* check("Shop.checkout is a child of the request's span", shopSpan?.parent, rootId)
  yield* check(
    "Payments.charge, in the worker, is a child of Shop.checkout",
    there.map((s) => [s.name, s.parent]),
    [["Payments.charge", shopSpan?.spanId]]
  )
})

run(
  program.pipe(
    Effect.provide(
      Layer.mergeAll(ShopLive, Recording).pipe(
        Layer.provideMerge(Payments.layer({ id: "payments", backend: Workers })),
        Layer.provideMerge(Workers.layer({ host })),
        Layer.provideMerge(ActorSystem.layer())
      )
    )
  )
)
