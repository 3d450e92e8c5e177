/**
 * The channels and topics declared in this process, by name, so that a node can decode what arrives
 * for them. `Channel.make` and `Topic.make` register here; both sides import the same declarations.
 */
import type { Subject } from "./router.ts"

const channels = new Map<string, Subject>()
const topics = new Map<string, Subject>()

/** Registers a declaration (the last one of a name wins, as with Context keys). */
export const register = (kind: "channel" | "topic", subject: Subject): void => {
  ;(kind === "channel" ? channels : topics).set(subject.name, subject)
}

export const lookup = (name: string, kind: "channel" | "topic"): Subject | undefined =>
  (kind === "channel" ? channels : topics).get(name)
