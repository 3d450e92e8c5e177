/**
 * Mailbox options: every actor has one bounded mailbox, handled one message at a time in arrival order.
 * When it is full, the overflow policy decides: "suspend" (the default) makes the sender wait for room,
 * which is back-pressure; "fail" fails the sender at once with ActorError reason MailboxFull.
 */

/** What happens to a sender when the mailbox is full. */
export type Overflow = "suspend" | "fail"

/**
 * Per-actor mailbox settings.
 *
 * @example
 * ```ts
 * Actor.spawn(Calculator, { id: "calc", mailbox: { capacity: 100, overflow: "fail" } })
 * ```
 */
export interface MailboxOptions {
  /** Messages that may wait in the mailbox (not counting the one being handled). Default 1024. */
  readonly capacity?: number | undefined
  /** Default "suspend". */
  readonly overflow?: Overflow | undefined
}

/** The defaults: 1024 messages, senders suspend when full. */
export const defaults: { readonly capacity: number; readonly overflow: Overflow } = {
  capacity: 1024,
  overflow: "suspend"
}
