/**
 * Host module for examples/passivation.ts: a shopping Cart that loads its items when it is activated and
 * saves them when it ends (a Map stands in for the database), so a cart that passivated comes back as it was.
 */
import { Effect, Ref, Schema } from "effect"
import { Actor, ActorContext } from "troupe"

export const Cart = Actor.make("Cart", {
  add: { payload: { item: Schema.String }, cast: true },
  items: { success: Schema.Array(Schema.String) },
  /** How many times this cart has been activated on its node. */
  activations: { success: Schema.Int }
})

// one per node: the worker's carts are saved in the worker
const saved = new Map<string, { readonly items: ReadonlyArray<string>; readonly activations: number }>()

export const CartLive = Cart.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    const before = saved.get(id)
    const items = yield* Ref.make<ReadonlyArray<string>>(before?.items ?? [])
    const activations = (before?.activations ?? 0) + 1
    // runs when the cart passivates (or stops any other way)
    yield* Effect.addFinalizer(() =>
      Effect.map(Ref.get(items), (now) => void saved.set(id, { items: now, activations }))
    )
    return Cart.of({
      add: ({ item }) => Ref.update(items, (list) => [...list, item]),
      items: () => Ref.get(items),
      activations: () => Effect.succeed(activations)
    })
  })
)
