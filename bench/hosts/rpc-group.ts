/**
 * The effect/rpc peer's group and handlers: one rpc, `add({ a, b }) → a + b`, the same Schema as the
 * Troupe `Adder`'s method. Shared by the parent (`RpcClient.make`) and the worker (`RpcServer.layer`).
 */
import { Effect, Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"

export class AdderRpcs extends RpcGroup.make(
  Rpc.make("add", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number })
) {}

export const AdderHandlers = AdderRpcs.toLayer(
  Effect.succeed(AdderRpcs.of({ add: ({ a, b }) => Effect.succeed(a + b) }))
)
