/**
 * ActorError: the one error type for every runtime failure of the actor system.
 * Each failure carries a tagged `reason` (NotFound, Stopped, MailboxFull, Defect, ...). Reasons are
 * Schema classes, so an ActorError raised on one node travels over the wire and arrives typed on another.
 * Domain errors are not ActorErrors: they are the Schema errors a protocol declares and pass through as-is.
 */
import { Cause, Predicate, Schema } from "effect"

/** No actor with this id lives on the node that was asked. */
export class NotFound extends Schema.TaggedClass<NotFound>()("NotFound", {
  actorId: Schema.String,
  protocol: Schema.optional(Schema.String)
}) {
  get message(): string {
    return `no actor "${this.actorId}"${this.protocol ? ` of protocol ${this.protocol}` : ""}`
  }
}

/** An actor with this id is already running. */
export class AlreadyExists extends Schema.TaggedClass<AlreadyExists>()("AlreadyExists", {
  actorId: Schema.String
}) {
  get message(): string {
    return `an actor "${this.actorId}" already exists`
  }
}

/** The actor is stopping or has stopped: the message was not accepted. */
export class Stopped extends Schema.TaggedClass<Stopped>()("Stopped", {
  actorId: Schema.String
}) {
  get message(): string {
    return `actor "${this.actorId}" is stopped`
  }
}

/** The actor was killed while this message was queued or being handled. */
export class Killed extends Schema.TaggedClass<Killed>()("Killed", {
  actorId: Schema.String
}) {
  get message(): string {
    return `actor "${this.actorId}" was killed before the message was handled`
  }
}

/** The mailbox was full and the actor's overflow policy is "fail". */
export class MailboxFull extends Schema.TaggedClass<MailboxFull>()("MailboxFull", {
  actorId: Schema.String,
  capacity: Schema.Number
}) {
  get message(): string {
    return `the mailbox of actor "${this.actorId}" is full (capacity ${this.capacity})`
  }
}

/** The call did not complete in time. The handler was interrupted; its effects may have happened. */
export class Timeout extends Schema.TaggedClass<Timeout>()("Timeout", {
  millis: Schema.Number,
  actorId: Schema.optional(Schema.String),
  method: Schema.optional(Schema.String)
}) {
  get message(): string {
    const what =
      this.actorId !== undefined
        ? `call ${this.actorId}.${this.method ?? "?"}`
        : this.method !== undefined
          ? this.method
          : "call"
    return `${what} timed out after ${this.millis} ms`
  }
}

/** The handler died: a thrown exception, a rejected Promise or an `Effect.die`. */
export class Defect extends Schema.TaggedClass<Defect>()("Defect", {
  actorId: Schema.String,
  method: Schema.String,
  name: Schema.String,
  message: Schema.String,
  stack: Schema.optional(Schema.String)
}) {}

/** The handler was interrupted from inside (not by the caller). */
export class Interrupted extends Schema.TaggedClass<Interrupted>()("Interrupted", {
  actorId: Schema.String,
  method: Schema.String
}) {
  get message(): string {
    return `handler ${this.actorId}.${this.method} was interrupted`
  }
}

/** The behaviour's construction failed, so the actor never started. */
export class SpawnFailed extends Schema.TaggedClass<SpawnFailed>()("SpawnFailed", {
  actorId: Schema.String,
  protocol: Schema.String,
  message: Schema.String
}) {}

/** The node has no behaviour for this protocol: nothing registered it (or it is not on the host's allow-list). */
export class UnknownProtocol extends Schema.TaggedClass<UnknownProtocol>()("UnknownProtocol", {
  protocol: Schema.String
}) {
  get message(): string {
    return `no behaviour for protocol ${this.protocol} is registered on this node`
  }
}

/** The actor exists but speaks another protocol than the one asked for. */
export class ProtocolMismatch extends Schema.TaggedClass<ProtocolMismatch>()("ProtocolMismatch", {
  actorId: Schema.String,
  expected: Schema.String,
  actual: Schema.String
}) {
  get message(): string {
    return `actor "${this.actorId}" speaks ${this.actual}, not ${this.expected}`
  }
}

/** A message, a reply or a frame failed its Schema (or the CBOR codec) on encode or decode. */
export class DecodeError extends Schema.TaggedClass<DecodeError>()("DecodeError", {
  actorId: Schema.String,
  method: Schema.String,
  /** What was being coded: "payload", "success", "error", "stream" or "frame". */
  part: Schema.String,
  message: Schema.String
}) {}

/** The actor has no such method (a peer built from another version of the protocol). */
export class UnknownMethod extends Schema.TaggedClass<UnknownMethod>()("UnknownMethod", {
  actorId: Schema.String,
  protocol: Schema.String,
  method: Schema.String
}) {
  get message(): string {
    return `protocol ${this.protocol} of actor "${this.actorId}" has no method ${this.method}`
  }
}

/**
 * The node running the actor died (a worker or child exited or was killed) or its link closed, while the
 * message was in flight: the message may or may not have been handled.
 */
export class PeerDied extends Schema.TaggedClass<PeerDied>()("PeerDied", {
  node: Schema.String,
  message: Schema.String
}) {}

/** The peer broke the wire protocol (a malformed frame, a bad handshake): the link was closed. */
export class ProtocolError extends Schema.TaggedClass<ProtocolError>()("ProtocolError", {
  node: Schema.String,
  message: Schema.String
}) {}

/** The peer speaks another version of the wire protocol. */
export class VersionMismatch extends Schema.TaggedClass<VersionMismatch>()("VersionMismatch", {
  node: Schema.String,
  expected: Schema.Number,
  actual: Schema.Number
}) {
  get message(): string {
    return `node ${this.node} speaks wire protocol version ${this.actual}, this node speaks ${this.expected}`
  }
}

/** A worker, child or remote host could not load its host module or build its behaviours. */
export class HostFailed extends Schema.TaggedClass<HostFailed>()("HostFailed", {
  node: Schema.String,
  message: Schema.String
}) {}

/**
 * The TCP connection to a remote node dropped (or the server shut down) while the message was in
 * flight: the message may or may not have been handled.
 */
export class Disconnected extends Schema.TaggedClass<Disconnected>()("Disconnected", {
  node: Schema.String,
  message: Schema.String
}) {}

/** A remote node could not be reached (connection refused, timed out, TLS failure). */
export class Unreachable extends Schema.TaggedClass<Unreachable>()("Unreachable", {
  node: Schema.String,
  message: Schema.String
}) {}

/** The remote node refused this client: a missing or wrong secret, or a handshake that broke the rules. */
export class Unauthorized extends Schema.TaggedClass<Unauthorized>()("Unauthorized", {
  node: Schema.String,
  message: Schema.String
}) {}

/**
 * The node the ref was made for was replaced by another (a remote server that restarted): the ref
 * names an actor of the old node, which is gone. Look the actor up again, or spawn it again.
 */
export class NodeRestarted extends Schema.TaggedClass<NodeRestarted>()("NodeRestarted", {
  node: Schema.String,
  now: Schema.String
}) {
  get message(): string {
    return `node ${this.node} was replaced by ${this.now}: this ref names an actor of the old node`
  }
}

/** The channel's inbox is closed, or never existed on that node. */
export class ChannelClosed extends Schema.TaggedClass<ChannelClosed>()("ChannelClosed", {
  channel: Schema.String
}) {
  get message(): string {
    return `the inbox of channel ${this.channel} is closed (or unknown)`
  }
}

/**
 * A call would have waited for itself: it queues behind a handler of the actor it calls, and that handler
 * is waiting for the call, either directly (a handler calling its own actor: Erlang's `calling_self`) or
 * through other actors' handlers (`cycle`: A's handler calls B, whose handler calls A), on any backend.
 * Refused at once instead of hanging until a timeout.
 */
export class Deadlock extends Schema.TaggedClass<Deadlock>()("Deadlock", {
  actorId: Schema.String,
  method: Schema.String,
  cycle: Schema.optionalKey(Schema.Boolean)
}) {
  get message(): string {
    return this.cycle === true
      ? `a call to ${this.method} of actor "${this.actorId}" would wait for a handler of "${this.actorId}" that is waiting, through other actors' calls, for this call; cast instead of calling somewhere in the cycle, or make the method concurrent`
      : `a handler of actor "${this.actorId}" called its own method ${this.method}, which would wait for the handler itself; cast to self, make the method concurrent, or call the logic directly`
  }
}

/** Every reason an ActorError can carry. */
export const ActorErrorReason = Schema.Union([
  NotFound,
  AlreadyExists,
  Stopped,
  Killed,
  MailboxFull,
  Timeout,
  Defect,
  Interrupted,
  SpawnFailed,
  UnknownProtocol,
  ProtocolMismatch,
  DecodeError,
  UnknownMethod,
  PeerDied,
  ProtocolError,
  VersionMismatch,
  HostFailed,
  Disconnected,
  Unreachable,
  Unauthorized,
  ChannelClosed,
  NodeRestarted,
  Deadlock
])

/** @see ActorErrorReason */
export type ActorErrorReason = typeof ActorErrorReason.Type

const TypeId = "~troupe/ActorError" as const

/**
 * The error of every runtime failure. Match on `reason._tag`:
 *
 * @example
 * ```ts
 * calc.add({ a: 1, b: 2 }).pipe(
 *   Effect.catchTag("ActorError", (e) =>
 *     e.reason._tag === "MailboxFull" ? Effect.succeed(0) : Effect.fail(e))
 * )
 * ```
 */
export class ActorError extends Schema.TaggedError<ActorError>("ActorError")("ActorError", {
  reason: ActorErrorReason
}) {
  declare readonly [TypeId]: typeof TypeId

  override get message(): string {
    return this.reason.message
  }
}
// on the prototype, so that it is neither printed nor encoded with each error
Object.defineProperty(ActorError.prototype, TypeId, { value: TypeId })

/** True for an ActorError (from any node). */
export const isActorError = (u: unknown): u is ActorError => Predicate.hasProperty(u, TypeId)

/** @internal shorthand used by the runtime */
export const make = (reason: ActorErrorReason): ActorError => new ActorError({ reason })

/** Turns a defect (anything thrown) into a Defect reason, keeping name, message and stack. */
export const defect = (actorId: string, method: string, cause: unknown): ActorError => {
  if (cause instanceof Error) {
    return make(
      new Defect({
        actorId,
        method,
        name: cause.name,
        message: cause.message,
        ...(cause.stack !== undefined ? { stack: cause.stack } : {})
      })
    )
  }
  return make(new Defect({ actorId, method, name: "Defect", message: stringify(cause) }))
}

const stringify = (u: unknown): string => {
  if (typeof u === "string") return u
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

/** Turns the failure Cause of a handler into what the caller sees: the declared error or an ActorError. */
export const fromCause = (actorId: string, method: string, cause: Cause.Cause<unknown>): unknown => {
  const reasons = cause.reasons
  for (let i = 0; i < reasons.length; i++) {
    const r = reasons[i]
    if (r._tag === "Fail") return r.error
  }
  for (let i = 0; i < reasons.length; i++) {
    const r = reasons[i]
    if (r._tag === "Die") return defect(actorId, method, r.defect)
  }
  return make(new Interrupted({ actorId, method }))
}
