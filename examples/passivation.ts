/**
 * Passivation. Virtual actors made on first use with `Actor.getOrSpawn` can also go away when unused:
 * with `idleTimeout` an actor stops gracefully once it has had no message for that long (its finalizers
 * run), and the next `getOrSpawn` of its id builds it again. Here a cart saves its items as it ends and
 * loads them as it starts, in-process and in a worker thread.
 * Run: npx tsx examples/passivation.ts
 */
import { Effect, Layer } from "effect"
import { Actor } from "troupe"
import { Workers } from "troupe/node"
import { Cart, CartLive } from "./hosts/carts.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/carts.ts", import.meta.url)

const shop = (where: string, backend: typeof Workers | undefined) =>
  Effect.gen(function* () {
    const cart = (id: string) => Actor.getOrSpawn(Cart, { id, backend, idleTimeout: "200 millis" })

    const ann = yield* cart("cart-ann")
    yield* ann.add({ item: "apple" })
    yield* ann.add({ item: "pear" })
    yield* check(`${where}: the cart holds two items`, yield* ann.items(), ["apple", "pear"])

    // nobody uses the cart: after 200 ms (and at most a quarter more) it passivates
    const ended = yield* Actor.watch(ann).pipe(Effect.timeout("5 seconds"))
    yield* check(`${where}: the idle cart passivated (a graceful stop)`, ended._tag, "Stopped")

    const back = yield* cart("cart-ann")
    yield* check(`${where}: getOrSpawn activates it again, items loaded`, yield* back.items(), ["apple", "pear"])
    yield* check(`${where}: it is the cart's second activation`, yield* back.activations(), 2)
    yield* Actor.stop(back)
  })

const program = Effect.gen(function* () {
  yield* shop("in-process", undefined)
  yield* shop("worker thread", Workers)
})

run(program.pipe(Effect.provide(Layer.merge(CartLive, Workers.layer({ host, size: 1 })))))
