/**
 * Backend: where actors run. The in-process system is the default; worker threads, child processes and
 * remote hosts are Backends provided as Layers under a service key of their own, chosen per spawn
 * (`Actor.spawn(P, { id, backend: Workers })`) or per service Layer. Every backend returns the same ActorRef.
 */
import type { Duration, Effect } from "effect"
import type { ActorError } from "./ActorError.ts"
import type { ActorRef } from "./ActorRef.ts"
import type { MailboxOptions } from "./Mailbox.ts"
import type { Protocol } from "./Protocol.ts"
import type { Supervision } from "./Supervision.ts"

/** Options of a spawn, whatever the backend. */
export interface SpawnOptions {
  readonly id: string
  readonly mailbox?: MailboxOptions | undefined
  /** What the actor does when a handler dies. Default: `Supervision.resume`. */
  readonly supervision?: Supervision | undefined
  /** Stop the actor gracefully once it has had no message for this long (passivation). Default: never. */
  readonly idleTimeout?: Duration.Input | undefined
  /**
   * @internal the spawner owns the actor (`Actor.spawnScoped`): if it gives up while the behaviour
   * builds, the in-process system kills the actor rather than leave it running outside the scope
   */
  readonly owned?: boolean | undefined
}

/** A place where actors can be spawned and looked up. */
export interface Backend {
  /** A short name for messages and the inspector ("local", "workers", ...). */
  readonly name: string
  spawn<P extends Protocol.Any>(protocol: P, options: SpawnOptions): Effect.Effect<ActorRef<P>, ActorError>
  lookup<P extends Protocol.Any>(protocol: P, id: string): Effect.Effect<ActorRef<P>, ActorError>
  getOrSpawn<P extends Protocol.Any>(protocol: P, options: SpawnOptions): Effect.Effect<ActorRef<P>, ActorError>
}
