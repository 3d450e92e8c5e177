/**
 * Termination: how an actor ended, as death watch reports it. Stopped (a graceful stop), Killed, Failed
 * (its supervision gave up, or its behaviour never built: the error says why), or NodeDown (the node
 * running it died or became unreachable, so its fate is unknown). Schema classes, so that a notice
 * travels between nodes.
 */
import { Schema } from "effect"
import { ActorError } from "./ActorError.ts"

/** The actor was stopped gracefully (by `Actor.stop`, its own poison pill, or its system closing). */
export class Stopped extends Schema.TaggedClass<Stopped>()("Stopped", {}) {}

/** The actor was killed. */
export class Killed extends Schema.TaggedClass<Killed>()("Killed", {}) {}

/** The actor failed for good: its supervision stopped it, or its behaviour failed to build. */
export class Failed extends Schema.TaggedClass<Failed>()("Failed", { error: ActorError }) {}

/** The node running the actor died or can no longer be reached: the actor is lost to the watcher. */
export class NodeDown extends Schema.TaggedClass<NodeDown>()("NodeDown", {
  node: Schema.String,
  message: Schema.String
}) {}

/** Every way an actor can end. */
export const Termination = Schema.Union([Stopped, Killed, Failed, NodeDown])

/** @see Termination */
export type Termination = typeof Termination.Type

/** @internal shared instances for the common cases */
export const stopped: Termination = new Stopped({})
/** @internal */
export const killed: Termination = new Killed({})
