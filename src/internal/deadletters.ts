/**
 * Dead letters: messages a node dropped with no sender left to tell (a remote cast the actor's node
 * refused, casts still queued when an actor was killed, channel messages for a closed inbox). The router
 * counts them, logs the first few, and publishes each on this built-in topic when someone subscribed to
 * it (`DeadLetter.subscribe`); publishing never waits, so a slow subscriber misses letters, not the node.
 */
import { Schema } from "effect"
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
