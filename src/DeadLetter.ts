/**
 * DeadLetter: the messages a system dropped with no sender left to tell. A cast completes once it is
 * handed over, and a channel message once it is sent; if it is lost after that (the actor's node refused
 * the cast, the actor was killed with it still queued, the inbox closed before it was read), the node
 * that dropped it counts it, logs the first ten, and publishes it here.
 */
import { Effect, type Scope, type Stream } from "effect"
import { ActorSystem } from "./ActorSystem.ts"
import { DeadLetter, subject } from "./internal/deadletters.ts"

export { DeadLetter } from "./internal/deadletters.ts"

/** Options of a dead-letter subscription. */
export interface SubscribeOptions {
  /** Letters buffered for this subscriber. Default 1024. */
  readonly capacity?: number | undefined
  /** What a full buffer does: drop the oldest ("sliding", the default) or the newest ("dropping"). */
  readonly strategy?: "sliding" | "dropping" | undefined
}

/**
 * The dead letters of every node this one reaches (its workers, children, remote sessions and the nodes
 * behind them), from now until the scope closes. Dead letters never slow the node that drops them: a
 * subscriber that falls behind misses some (the inspector's per-node count is exact).
 *
 * @example
 * ```ts
 * const letters = yield* DeadLetter.subscribe()
 * yield* letters.pipe(
 *   Stream.runForEach((letter) => Console.log(`${letter.name} to ${letter.target}: ${letter.reason}`)),
 *   Effect.forkScoped
 * )
 * ```
 */
export const subscribe = (options?: SubscribeOptions): Effect.Effect<Stream.Stream<DeadLetter>, never, Scope.Scope> =>
  Effect.flatMap(
    ActorSystem,
    (system) =>
      system.router.subscribe(subject, options?.capacity ?? 1024, options?.strategy ?? "sliding") as Effect.Effect<
        Stream.Stream<DeadLetter>,
        never,
        Scope.Scope
      >
  )

/**
 * How many messages this node has dropped so far (its own count; the inspector shows every node's).
 *
 * @example
 * ```ts
 * const dropped = yield* DeadLetter.count
 * ```
 */
export const count: Effect.Effect<number> = Effect.map(ActorSystem, (system) => system.router.deadLetters)
