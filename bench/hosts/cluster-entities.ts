/**
 * The entities of cluster.bench.ts, shared by the runner process (hosts/cluster-runner.ts) and the
 * parent (which also hosts them on an in-memory TestRunner): the Troupe `Adder` hosted through
 * `troupe/cluster`, and `PlainAdder`, a hand-written effect/cluster entity with the same one `add`
 * rpc (the effect/rpc peer's group, hosts/rpc-group.ts) and no Troupe at all. The counting pair does
 * the same with state (`Ref.modify`), as local.bench.ts's CountingAdder: a handler that is an Effect
 * to run rather than an answer (an Exit) takes another path through the adapter.
 */
import { Effect, Layer, Ref } from "effect"
import { Entity } from "effect/cluster"
import { Actor } from "troupe"
import * as Cluster from "troupe/cluster"
import { Adder, AdderLive } from "./adder.ts"
import { AdderRpcs } from "./rpc-group.ts"

export const PlainAdder = Entity.fromRpcGroup("PlainAdder", AdderRpcs)

export const PlainAdderLive = PlainAdder.toLayer(
  Effect.succeed(PlainAdder.of({ add: ({ payload }) => Effect.succeed(payload.a + payload.b) }))
)

export const CountingAdder = Actor.make("CountingAdder", { add: Adder.methods.add })

export const CountingAdderLive = CountingAdder.toLayer(
  Effect.gen(function* () {
    const handled = yield* Ref.make(0)
    return CountingAdder.of({ add: ({ a, b }) => Ref.modify(handled, (k) => [a + b, k + 1]) })
  })
)

export const PlainCountingAdder = Entity.fromRpcGroup("PlainCountingAdder", AdderRpcs)

export const PlainCountingAdderLive = PlainCountingAdder.toLayer(
  Effect.gen(function* () {
    const handled = yield* Ref.make(0)
    return PlainCountingAdder.of({
      add: ({ payload }) => Ref.modify(handled, (k) => [payload.a + payload.b, k + 1])
    })
  })
)

/** Every entity of the benchmark, registered on whatever runner (Sharding) is provided. */
export const EntitiesLive = Layer.mergeAll(
  Cluster.toLayer(Adder).pipe(Layer.provide(AdderLive)),
  PlainAdderLive,
  Cluster.toLayer(CountingAdder).pipe(Layer.provide(CountingAdderLive)),
  PlainCountingAdderLive
)
