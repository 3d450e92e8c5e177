/**
 * A Backend over links: spawn, get-or-spawn and lookup by id go to the link that serves that id (one
 * node of a pool, chosen by hash, or the one remote host). Shared by the pool and the TCP client.
 */
import { Effect, Exit } from "effect"
import * as ActorError from "../../ActorError.ts"
import type { ActorRef } from "../../ActorRef.ts"
import type { Backend, SpawnOptions } from "../../Backend.ts"
import type { Link } from "../../internal/wire/link.ts"
import type { Protocol } from "../../Protocol.ts"

/** Builds a Backend that reaches actor `id` through `linkFor(id)`; `spawned` hears of each spawn. */
export const overLinks = (
  name: string,
  linkFor: (id: string) => Link | ActorError.ActorError,
  spawned?: (protocol: Protocol.Any, options: SpawnOptions, link: Link, ref: ActorRef<any>) => void
): Backend => {
  const spawnOn = <P extends Protocol.Any>(
    protocol: P,
    options: SpawnOptions,
    getOrSpawn: boolean
  ): Effect.Effect<ActorRef<P>, ActorError.ActorError> =>
    Effect.suspend(() => {
      const link = linkFor(options.id)
      if (ActorError.isActorError(link)) return Exit.fail(link)
      // the peer said in its handshake what it may spawn: refuse the others without a round trip
      if (link.status === "open" && !link.peerKinds.includes(protocol.name)) {
        return Exit.fail(ActorError.make(new ActorError.UnknownProtocol({ protocol: protocol.name })))
      }
      const spawn = link.spawn(protocol, options, getOrSpawn) as Effect.Effect<ActorRef<P>, ActorError.ActorError>
      return spawned === undefined
        ? spawn
        : Effect.tap(spawn, (ref) => Effect.sync(() => spawned(protocol, options, link, ref)))
    })
  return {
    name,
    spawn: (protocol, options) => spawnOn(protocol, options, false),
    getOrSpawn: (protocol, options) => spawnOn(protocol, options, true),
    lookup: (protocol, id) =>
      Effect.suspend(() => {
        const link = linkFor(id)
        return ActorError.isActorError(link)
          ? Exit.fail(link)
          : (link.lookup(protocol, id) as Effect.Effect<any, ActorError.ActorError>)
      })
  }
}

/** FNV-1a: places actor ids on the nodes of a pool. */
export const hash = (id: string): number => {
  let h = 2166136261
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 16777619)
  }
  return h >>> 0
}
