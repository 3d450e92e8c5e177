/**
 * Troupe: typed actors for Effect. The platform-neutral core: protocols, behaviours, refs, the
 * in-process actor system and the one error type. Node backends (worker threads, child processes,
 * TCP) live in `troupe/node`.
 */
export * as Actor from "./Actor.ts"
export { ActorContext } from "./ActorContext.ts"
export * as ActorError from "./ActorError.ts"
export * as ActorRef from "./ActorRef.ts"
export * as ActorSystem from "./ActorSystem.ts"
export * as Backend from "./Backend.ts"
export * as Behaviour from "./Behaviour.ts"
export * as Channel from "./Channel.ts"
export * as DeadLetter from "./DeadLetter.ts"
export * as Inspector from "./Inspector.ts"
export * as Mailbox from "./Mailbox.ts"
export * as Protocol from "./Protocol.ts"
export * as Supervision from "./Supervision.ts"
export * as Termination from "./Termination.ts"
export * as Topic from "./Topic.ts"
