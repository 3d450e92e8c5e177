/**
 * Topic: typed publish/subscribe across every node of a system. `publish` from any node; `subscribe`
 * gives a scoped Stream of publications from every node (leaving the scope unsubscribes). A node only
 * receives the topics it has subscribers for, each subscriber has its own buffer and overflow policy,
 * and a publisher's messages arrive in the order it published them.
 */
import { Effect, Predicate, type Schema, type Scope, type Stream } from "effect"
import type * as ActorError from "./ActorError.ts"
import { ActorSystem } from "./ActorSystem.ts"
import type { Subject } from "./internal/router.ts"
import * as Subjects from "./internal/subjects.ts"

const TypeId = "~troupe/Topic" as const

/** A topic declaration: a name and the Schema of its publications. */
export interface Topic<Name extends string, A, I = A> {
  readonly [TypeId]: typeof TypeId
  readonly name: Name
  readonly schema: Schema.Codec<A, I>
}

/** Any topic. */
export type Any = Topic<string, any, any>

/** What a subscriber's buffer does when it is full. */
export type Strategy = "suspend" | "sliding" | "dropping"

/** Options of a subscription. */
export interface SubscribeOptions {
  /** Publications buffered for this subscriber. Default 256. */
  readonly capacity?: number | undefined
  /**
   * "suspend" (the default): publishers wait for this subscriber, across nodes (back-pressure);
   * "sliding": the oldest buffered publication is dropped; "dropping": the newest is.
   */
  readonly strategy?: Strategy | undefined
}

/**
 * Declares a topic.
 *
 * @example
 * ```ts
 * const News = Topic.make("news", Schema.String)
 * ```
 */
export const make = <const Name extends string, A, I>(name: Name, schema: Schema.Codec<A, I>): Topic<Name, A, I> => {
  const topic: Topic<Name, A, I> = { [TypeId]: TypeId, name, schema }
  Subjects.register("topic", topic as Subject)
  return topic
}

/** True for a topic declaration. */
export const isTopic = (u: unknown): u is Any => Predicate.hasProperty(u, TypeId)

/**
 * Publishes to every subscriber on every node. Completes when the publication is handed to the local
 * subscribers' buffers and to the links towards interested nodes; with "suspend" subscribers it waits
 * for room. Publishing to a topic nobody subscribes to anywhere costs nothing.
 *
 * @example
 * ```ts
 * yield* Topic.publish(News, "Troupe 1.0 is out")
 * ```
 */
export const publish = <A>(topic: Topic<string, A, any>, message: A): Effect.Effect<void, ActorError.ActorError> =>
  Effect.flatMap(ActorSystem, (system) => system.router.publish(topic as unknown as Subject, message))

/**
 * Subscribes for the lifetime of the current scope; the Stream yields publications from every node.
 * The subscription is registered (and announced to the other nodes) before this returns.
 *
 * @example
 * ```ts
 * const news = yield* Topic.subscribe(News, { capacity: 64, strategy: "sliding" })
 * yield* news.pipe(Stream.take(3), Stream.runForEach(Console.log))
 * ```
 */
export const subscribe = <A>(
  topic: Topic<string, A, any>,
  options?: SubscribeOptions
): Effect.Effect<Stream.Stream<A>, never, Scope.Scope> =>
  Effect.flatMap(
    ActorSystem,
    (system) =>
      system.router.subscribe(
        topic as unknown as Subject,
        options?.capacity ?? 256,
        options?.strategy ?? "suspend"
      ) as Effect.Effect<Stream.Stream<A>, never, Scope.Scope>
  )
