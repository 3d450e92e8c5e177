/**
 * Refs inside messages. A ref travels as its address (node, id, incarnation, protocol name); the ref
 * decoded from it finds its actor at each use through the ActorSystem of the fiber using it: an actor
 * of that very node, an actor on a neighbour (its link), or one further away, reached by requests that
 * the nodes on the way relay (VIA frames). No node is reachable that the user's node has no route to.
 */
import { Effect, Exit, Schema, SchemaIssue, SchemaTransformation, Stream } from "effect"
import * as ActorError from "../ActorError.ts"
import * as ActorRef from "../ActorRef.ts"
import { ActorSystem } from "../ActorSystem.ts"
import type { Method, Protocol, RefEncoded } from "../Protocol.ts"
import * as T from "../Termination.ts"
import type { Termination } from "../Termination.ts"
import type { Link } from "./wire/link.ts"

/** What a use of the ref resolved to on one system, kept while it stays valid. */
interface Resolved {
  readonly system: ActorSystem
  /** The link requests leave by, or undefined for an actor of the system's own node. */
  readonly link: Link | undefined
  readonly endpoint: ActorRef.Endpoint
}

/** The endpoint of a ref that was decoded from a message. */
class AddressEndpoint implements ActorRef.Endpoint {
  readonly protocol: Protocol.Any
  readonly id: string
  readonly node: string
  readonly incarnation: number
  private resolved: Resolved | undefined = undefined
  constructor(protocol: Protocol.Any, address: RefEncoded) {
    this.protocol = protocol
    this.id = address.id
    this.node = address.node
    this.incarnation = address.incarnation
  }
  get location(): string {
    return this.node
  }
  get address(): ActorRef.Address {
    return { node: this.node, incarnation: this.incarnation }
  }

  /**
   * A local endpoint stays right for good (once its incarnation ends it answers Stopped, as it should);
   * a link's endpoint while the link is open.
   */
  private resolve(system: ActorSystem): ActorRef.Endpoint | ActorError.ActorError {
    const cached = this.resolved
    if (
      cached !== undefined &&
      cached.system === system &&
      (cached.link === undefined || cached.link.status === "open")
    ) {
      return cached.endpoint
    }
    if (this.node === system.nodeId) {
      const endpoint = system.endpointOf(this.id, this.incarnation)
      if (endpoint === undefined) return ActorError.make(new ActorError.Stopped({ actorId: this.id }))
      this.resolved = { system, link: undefined, endpoint }
      return endpoint
    }
    const link = system.router.route(this.node)
    if (link === undefined || link.status !== "open") {
      return ActorError.make(new ActorError.Unreachable({ node: this.node, message: `no route to node ${this.node}` }))
    }
    const endpoint = link.endpoint(
      this.protocol,
      this.id,
      this.incarnation,
      link.peer === this.node ? undefined : this.node
    )
    this.resolved = { system, link, endpoint }
    return endpoint
  }

  private with<A, E>(
    f: (endpoint: ActorRef.Endpoint) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | ActorError.ActorError> {
    return Effect.withFiber((fiber): Effect.Effect<A, E | ActorError.ActorError> => {
      const endpoint = this.resolve(fiber.getRef(ActorSystem))
      return ActorError.isActorError(endpoint) ? Exit.fail(endpoint) : f(endpoint)
    })
  }

  call(method: Method, payload: unknown): Effect.Effect<unknown, unknown> {
    return this.with((endpoint) => endpoint.call(method, payload))
  }
  cast(method: Method, payload: unknown): Effect.Effect<void, ActorError.ActorError> {
    return this.with((endpoint) => endpoint.cast(method, payload))
  }
  stream(method: Method, payload: unknown): Stream.Stream<unknown, unknown> {
    return Stream.unwrap(this.with((endpoint) => Effect.succeed(endpoint.stream(method, payload))))
  }
  get stop(): Effect.Effect<void, ActorError.ActorError> {
    return this.terminate(false)
  }
  get kill(): Effect.Effect<void, ActorError.ActorError> {
    return this.terminate(true)
  }
  private terminate(kill: boolean): Effect.Effect<void, ActorError.ActorError> {
    return Effect.withFiber((fiber) => {
      const system = fiber.getRef(ActorSystem)
      const endpoint = this.resolve(system)
      if (!ActorError.isActorError(endpoint)) return kill ? endpoint.kill : endpoint.stop
      // stopping an incarnation of this node that has already ended is done, as on every backend
      return this.node === system.nodeId ? Exit.void : Exit.fail(endpoint)
    })
  }
  get watch(): Effect.Effect<Termination> {
    return Effect.withFiber((fiber) => {
      const system = fiber.getRef(ActorSystem)
      const endpoint = this.resolve(system)
      if (!ActorError.isActorError(endpoint)) return endpoint.watch
      // gone from its own node: how it ended, if the node remembers; unreachable: its node is down for us
      return Exit.succeed(
        this.node === system.nodeId
          ? system.terminationOf(this.incarnation)
          : new T.NodeDown({ node: this.node, message: endpoint.message })
      )
    })
  }
}

/**
 * The Schema of refs to actors speaking `protocol`, for payloads, replies and channel messages.
 * Encoding takes the address of any ref of that protocol; decoding gives a ref that reaches the
 * actor from wherever it is used.
 */
export const schema = <P extends Protocol.Any>(protocol: P): Schema.Codec<ActorRef.ActorRef<P>, RefEncoded> => {
  const encoded = Schema.Struct({
    node: Schema.String,
    id: Schema.String,
    incarnation: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
    protocol: Schema.Literal(protocol.name as string)
  })
  const type = Schema.declare(
    (u: unknown): u is ActorRef.ActorRef<P> => ActorRef.isActorRef(u) && u.protocol.name === protocol.name
  )
  return encoded.pipe(
    Schema.decodeTo(
      type,
      SchemaTransformation.transformEffect({
        decode: (address) => Effect.succeed(ActorRef.make<P>(new AddressEndpoint(protocol, address))),
        encode: (ref, options) => {
          const address = ActorRef.endpoint(ref).address
          if (address === undefined) {
            return Effect.fail(
              new SchemaIssue.InvalidValue(
                { message: `the ref of pool "${ref.id}" cannot travel; send one of Actor.members(pool)` },
                ref,
                options
              )
            )
          }
          return Effect.succeed({
            node: address.node,
            id: ref.id,
            incarnation: address.incarnation,
            protocol: protocol.name as string
          })
        }
      })
    )
  ) as any
}
