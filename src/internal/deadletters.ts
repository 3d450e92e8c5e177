/**
 * Dead letters: messages a node dropped with no sender left to tell (a remote cast the actor's node
 * refused, casts still queued when an actor was killed, channel messages for a closed inbox). The router
 * counts them, logs the first few, and publishes each on this built-in topic when someone subscribed to
 * it (`DeadLetter.subscribe`); publishing never waits, so a slow subscriber misses letters, not the node.
 */
import { Schema } from "effect"
import * as ActorError from "../ActorError.ts"
import type { Subject } from "./router.ts"
import * as Subjects from "./subjects.ts"

/** One dropped message: where, what, why, and from which node. */
export class DeadLetter extends Schema.Class<DeadLetter>("troupe/DeadLetter")({
  /** The node that dropped it. */
  node: Schema.String,
  kind: Schema.Literals(["cast", "channel"]),
  /** The actor's id, or the inbox's id. */
  target: Schema.String,
  /** `Protocol.method` of a cast (the method alone when the actor is gone), or the channel's name. */
  name: Schema.String,
  /** The ActorError reason the sender would have had: MailboxFull, Stopped, Killed, DecodeError... */
  reason: Schema.String,
  message: Schema.String,
  /** The sending node, when known. */
  from: Schema.NullOr(Schema.String),
  /** When it was dropped (epoch ms, the dropping node's clock). */
  at: Schema.Number
}) {}

export const subject: Subject = { name: "troupe/dead-letters", schema: DeadLetter }
Subjects.register("topic", subject)

/** Dead letters a node logs before it only counts them (Akka logs ten too). */
export const logged = 10

/** The latest dead letters a node keeps for the inspector. */
export const recentKept = 8

/** The fields the router fills in itself. */
export type Letter = Omit<DeadLetter, "node" | "at">

// Descriptions are made here, from values only. A closure made inside a method shares that method's
// context with the method's other closures, so it would hold the cell, the link or the frame (with its
// payload) for as long as the router keeps the letter among the latest ones.

// a peer chooses method names and node ids: a letter quotes at most this much of each
const clip = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}…` : s)

const letter = (
  kind: Letter["kind"],
  target: string,
  name: string,
  reason: string,
  message: string,
  from: string
): Letter => ({ kind, target: clip(target), name: clip(name), reason, message: clip(message), from: clip(from) })

const castLetter = (target: string, from: string, name: string, error: ActorError.ActorError): Letter =>
  letter("cast", target, name, error.reason._tag, error.message, from)

/** A cast dropped with an error already at hand (cached, or made anyway). */
export const castFailed = (target: string, from: string, name: string, error: ActorError.ActorError) => (): Letter =>
  castLetter(target, from, name, error)

/** A cast to a full `"fail"` mailbox: the error is made only if the letter is described. */
export const castRefused =
  (target: string, from: string, protocol: string, method: string, capacity: number) => (): Letter =>
    castLetter(
      target,
      from,
      `${protocol}.${method}`,
      ActorError.make(new ActorError.MailboxFull({ actorId: target, capacity }))
    )

/** A cast to an actor that has gone (or to a method it does not have, when `protocol` is known). */
export const castUnknown =
  (target: string, from: string, protocol: string | undefined, method: string) => (): Letter =>
    protocol === undefined
      ? castLetter(target, from, method, ActorError.make(new ActorError.Stopped({ actorId: target })))
      : castLetter(
          target,
          from,
          `${protocol}.${method}`,
          ActorError.make(new ActorError.UnknownMethod({ actorId: target, protocol, method }))
        )

/** A cast dropped on its way: too large to send (DecodeError), or no route (Unreachable). */
export const castLost =
  (target: string, from: string, method: string, reason: "DecodeError" | "Unreachable", detail: string, node: string) =>
  (): Letter =>
    castLetter(
      target,
      from,
      method,
      ActorError.make(
        reason === "DecodeError"
          ? new ActorError.DecodeError({ actorId: target, method, part: "payload", message: detail })
          : new ActorError.Unreachable({ node, message: detail })
      )
    )

/** A channel message dropped: `name` is empty when the inbox was already gone (its frame does not say). */
export const channelLetter =
  (target: string, name: string, reason: string, message: string, from: string) => (): Letter =>
    letter("channel", target, name, reason, message, from)

/** A description made already (a kill drops at most a mailbox's worth of casts). */
export const described = (letter: Letter) => (): Letter => letter
