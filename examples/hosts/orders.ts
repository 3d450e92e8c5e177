/**
 * Host module for examples/pipeline.ts: the stages of an order pipeline, connected by typed channels.
 * A Parser turns raw CSV lines into Orders; a Pricer prices them. The Order Schema carries the rules
 * (a SKU like "ABC-123", a positive quantity), and every hop between nodes enforces it.
 */
import { Effect, Ref, Schema, Stream } from "effect"
import { Actor, ActorContext, Channel } from "troupe"

export const Order = Schema.Struct({
  id: Schema.Int,
  sku: Schema.String.check(Schema.isPattern(/^[A-Z]{3}-\d{3}$/)),
  quantity: Schema.Int.check(Schema.isGreaterThan(0))
})
export const Priced = Schema.Struct({ id: Schema.Int, sku: Schema.String, total: Schema.Number, by: Schema.String })
export const Rejected = Schema.Struct({ line: Schema.String, reason: Schema.String })

export const Lines = Channel.make("order-lines", Schema.String)
export const Orders = Channel.make("orders", Order)
export const PricedOrders = Channel.make("priced-orders", Priced)

export const Parser = Actor.make("Parser", {
  /** Opens the parser's inbox of CSV lines ("id,sku,quantity"); parsed orders go to `out`. */
  start: { payload: { out: Orders.Endpoint }, success: Lines.Endpoint },
  rejected: { success: Schema.Array(Rejected) }
})

export const ParserLive = Parser.toLayer(
  Effect.gen(function* () {
    const rejected = yield* Ref.make<ReadonlyArray<typeof Rejected.Type>>([])
    const reject = (line: string, reason: string) => Ref.update(rejected, (r) => [...r, { line, reason }])
    return Parser.of({
      start: ({ out }) =>
        Effect.gen(function* () {
          const lines = yield* Channel.open(Lines) // in the actor's scope: open while it lives
          yield* lines.stream.pipe(
            Stream.runForEach((line) => {
              // syntax only: the Order Schema checks the rules when the order leaves this node
              const [id, sku, quantity] = line.split(",").map((field) => field.trim())
              return Channel.send(out, { id: Number(id), sku: sku ?? "", quantity: Number(quantity) }).pipe(
                Effect.catchReason("ActorError", "DecodeError", (e) => reject(line, `DecodeError: ${e.message}`)),
                Effect.catchTag("ActorError", (e) => reject(line, e.reason._tag))
              )
            }),
            Effect.forkScoped
          )
          return lines.endpoint
        }),
      rejected: () => Ref.get(rejected)
    })
  })
)

const prices: Record<string, number> = { BOK: 12.5, PEN: 1.25, INK: 7 }

export const Pricer = Actor.make("Pricer", {
  /** Opens the pricer's inbox of orders; priced orders go to `out`. */
  start: { payload: { out: PricedOrders.Endpoint }, success: Orders.Endpoint }
})

export const PricerLive = Pricer.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    return Pricer.of({
      start: ({ out }) =>
        Effect.gen(function* () {
          const orders = yield* Channel.open(Orders)
          yield* orders.stream.pipe(
            Stream.runForEach((order) =>
              Channel.send(out, {
                id: order.id,
                sku: order.sku,
                total: order.quantity * (prices[order.sku.slice(0, 3)] ?? 0),
                by: `${id} (pid ${process.pid})`
              })
            ),
            Effect.forkScoped
          )
          return orders.endpoint
        })
    })
  })
)
