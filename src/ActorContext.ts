/**
 * ActorContext: what a running actor knows about itself. Provided to the behaviour's build Effect and
 * to every handler: its id, its own ref, and `stop`, the poison pill it can send itself (the Zig
 * seed's `ctx.poisonPill()`). Other actors are reached with `Actor.spawn`/`lookup` as anywhere else.
 */
import { Context, type Effect } from "effect"
import type { ActorRef } from "./ActorRef.ts"
import type { Protocol } from "./Protocol.ts"

/**
 * The running actor's own context.
 *
 * @example
 * ```ts
 * const Counter = Actor.make("Counter", { done: { cast: true } })
 * const CounterLive = Counter.toLayer(Effect.gen(function*() {
 *   const ctx = yield* ActorContext
 *   return Counter.of({ done: () => ctx.stop })     // handles what is queued, then stops
 * }))
 * ```
 */
export class ActorContext extends Context.Service<
  ActorContext,
  {
    readonly id: string
    readonly protocol: Protocol.Any
    readonly self: ActorRef<any>
    /** Poison pill: the actor handles what is already queued, then stops. Returns at once. */
    readonly stop: Effect.Effect<void>
  }
>()("troupe/ActorContext") {}
