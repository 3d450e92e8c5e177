/**
 * Channel: a named, typed point-to-point mailbox. Open one (scoped) anywhere, in an actor or in the
 * main program, hand its endpoint to anyone (endpoints travel inside actor and channel messages), and
 * `send` to it from any node: Troupe routes it. Receiving takes a timeout that fails typed, never a
 * null, and the inbox is also a Stream. Back-pressure crosses the wire: each sending node has a window
 * of credit that the receiver refills as it takes messages.
 */
import { Duration, Effect, Exit, Predicate, Queue, Schema, SchemaTransformation, type Scope, Stream } from "effect"
import * as ActorError from "./ActorError.ts"
import { ActorSystem } from "./ActorSystem.ts"
import type { EndpointAddress, Inbox as RouterInbox, Subject } from "./internal/router.ts"
import * as Subjects from "./internal/subjects.ts"

const TypeId = "~troupe/Channel" as const
const EndpointTypeId = "~troupe/Channel/Endpoint" as const

/** Where to send messages of type A: a serializable address of one inbox. */
export interface Endpoint<in out A> extends EndpointAddress {
  readonly [EndpointTypeId]: (_: A) => A
}

/** A channel declaration: a name and the Schema of its messages. */
export interface Channel<Name extends string, A, I = A> {
  readonly [TypeId]: typeof TypeId
  readonly name: Name
  readonly schema: Schema.Codec<A, I>
  /** The Schema of this channel's endpoints, to put them in payloads and messages. */
  readonly Endpoint: Schema.Codec<Endpoint<A>, { readonly node: string; readonly id: string; readonly channel: Name }>
}

/** Any channel. */
export type Any = Channel<string, any, any>

/** The receiving side of a channel, open until its scope closes. */
export interface Inbox<A> {
  /** Give this to senders. */
  readonly endpoint: Endpoint<A>
  /**
   * Takes the next message. With a timeout, fails with ActorError reason Timeout when none came in
   * time; once the inbox is closed, fails with ChannelClosed.
   */
  receive(options?: { readonly timeout?: Duration.Input | undefined }): Effect.Effect<A, ActorError.ActorError>
  /** The messages as a Stream; it ends when the inbox closes. */
  readonly stream: Stream.Stream<A>
  /** Messages waiting to be taken. */
  readonly size: Effect.Effect<number>
}

class EndpointImpl implements EndpointAddress {
  declare readonly [EndpointTypeId]: (_: unknown) => unknown
  readonly node: string
  readonly id: string
  readonly channel: string
  constructor(address: EndpointAddress) {
    this.node = address.node
    this.id = address.id
    this.channel = address.channel
  }
  toJSON() {
    return { _id: "Channel.Endpoint", node: this.node, id: this.id, channel: this.channel }
  }
}

/** True for a channel endpoint. */
export const isEndpoint = (u: unknown): u is Endpoint<unknown> => u instanceof EndpointImpl

/**
 * Declares a channel.
 *
 * @example
 * ```ts
 * const Jobs = Channel.make("jobs", Schema.Struct({ n: Schema.Number }))
 * const Worker = Actor.make("Worker", { start: { payload: { jobs: Jobs.Endpoint } } })
 * ```
 */
export const make = <const Name extends string, A, I>(name: Name, schema: Schema.Codec<A, I>): Channel<Name, A, I> => {
  const encoded = Schema.Struct({ node: Schema.String, id: Schema.String, channel: Schema.Literal(name) })
  const type = Schema.declare((u: unknown): u is Endpoint<A> => u instanceof EndpointImpl && u.channel === name)
  const EndpointSchema = encoded.pipe(
    Schema.decodeTo(
      type,
      SchemaTransformation.transform({
        decode: (address) => new EndpointImpl(address) as unknown as Endpoint<A>,
        encode: (endpoint) => ({ node: endpoint.node, id: endpoint.id, channel: name })
      })
    )
  )
  const channel: Channel<Name, A, I> = {
    [TypeId]: TypeId,
    name,
    schema,
    Endpoint: EndpointSchema as any
  }
  Subjects.register("channel", channel as Subject)
  return channel
}

/** True for a channel declaration. */
export const isChannel = (u: unknown): u is Any => Predicate.hasProperty(u, TypeId)

const timeoutError = (channel: string, millis: number) =>
  ActorError.make(new ActorError.Timeout({ millis, method: `receive(${channel})` }))

/**
 * Opens an inbox for a channel on this node; closing the scope closes it (later sends fail with
 * ChannelClosed). `capacity` bounds what senders on this node may queue before they wait; senders on
 * other nodes are bounded by their credit.
 *
 * @example
 * ```ts
 * const inbox = yield* Channel.open(Jobs)
 * yield* worker.start({ jobs: inbox.endpoint })
 * const job = yield* inbox.receive({ timeout: "5 seconds" })
 * ```
 */
export const open = <Name extends string, A, I>(
  channel: Channel<Name, A, I>,
  options?: { readonly capacity?: number | undefined }
): Effect.Effect<Inbox<A>, never, Scope.Scope> =>
  Effect.flatMap(ActorSystem, (system) =>
    Effect.map(system.router.openInbox(channel as unknown as Subject, options?.capacity ?? 1024), (inbox) =>
      makeInbox<A>(inbox)
    )
  )

const makeInbox = <A>(inbox: RouterInbox): Inbox<A> => {
  const take = Effect.map(Queue.take(inbox.queue), (item) => {
    inbox.taken(item)
    return item.value as A
  }) as Effect.Effect<A, ActorError.ActorError>
  return {
    endpoint: new EndpointImpl(inbox.address) as unknown as Endpoint<A>,
    receive: (options) =>
      options?.timeout === undefined
        ? take
        : Effect.timeoutOrElse(take, {
            duration: options.timeout,
            orElse: () =>
              Exit.fail(timeoutError(inbox.subject.name, Duration.toMillis(Duration.fromInputUnsafe(options.timeout!))))
          }),
    stream: Stream.fromQueue(inbox.queue).pipe(
      Stream.map((item) => {
        inbox.taken(item)
        return item.value as A
      }),
      // closing the inbox ends its stream
      Stream.catchCause(() => Stream.empty)
    ) as Stream.Stream<A>,
    size: Queue.size(inbox.queue)
  }
}

/**
 * Sends a message to an inbox on any node. Waits while the receiver's window is full (back-pressure);
 * fails with ChannelClosed if the inbox is closed or unknown, PeerDied / Disconnected / Unreachable if
 * its node cannot be reached. Messages from one sender arrive in the order sent.
 *
 * @example
 * ```ts
 * yield* Channel.send(endpoint, { n: 1 })
 * ```
 */
export const send = <A>(endpoint: Endpoint<A>, message: A): Effect.Effect<void, ActorError.ActorError> =>
  Effect.flatMap(ActorSystem, (system) => {
    const subject = Subjects.lookup(endpoint.channel, "channel")
    if (subject === undefined) {
      return Exit.fail(ActorError.make(new ActorError.ChannelClosed({ channel: endpoint.channel })))
    }
    return system.router.send(endpoint, subject, message)
  })
