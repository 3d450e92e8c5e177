/**
 * Supervision: what an actor does when a handler dies (a defect) or a cast fails with no caller to
 * tell. `resume` (the default) keeps its state and goes on; `stop` ends it (watchers learn `Failed`);
 * `restart` closes its scope and builds the behaviour again (fresh state) after a backoff that follows
 * an Effect Schedule, at most `maxRestarts` times within `within`, past which it stops. The mailbox
 * survives a restart, and so do refs to the actor.
 */
import { Duration, Effect, Schedule } from "effect"

/** Exponential backoff between restarts, with jitter, capped. */
export interface Backoff {
  /** First delay. Default 10 ms. */
  readonly initial?: Duration.Input | undefined
  /** Growth per restart. Default 2. */
  readonly factor?: number | undefined
  /** Largest delay. Default 1 second. */
  readonly max?: Duration.Input | undefined
  /** Randomize each delay (80%–120%). Default true. */
  readonly jitter?: boolean | undefined
}

/** A supervision policy. */
export type Supervision =
  | { readonly _tag: "Resume" }
  | { readonly _tag: "Stop" }
  | {
      readonly _tag: "Restart"
      readonly maxRestarts: number
      readonly withinMillis: number
      readonly backoff: Required<{ readonly [K in keyof Backoff]: K extends "jitter" ? boolean : number }>
      /** A Schedule given directly (in-process actors only: a Schedule cannot travel). */
      readonly schedule: Schedule.Schedule<unknown> | undefined
    }

/** Keep the actor and its state; the failing message's caller got its ActorError. The default. */
export const resume: Supervision = { _tag: "Resume" }

/** Stop the actor at its first failure; watchers get `Failed` with the defect. */
export const stop: Supervision = { _tag: "Stop" }

/**
 * Restart the actor with fresh state after a backoff; past `maxRestarts` restarts within `within`
 * (Erlang's default: 1 in 5 seconds), or when a given Schedule ends, stop it (watchers get `Failed`).
 *
 * @example
 * ```ts
 * Actor.spawn(Worker, { id: "w", supervision: Supervision.restart({ maxRestarts: 3, within: "10 seconds" }) })
 * ```
 */
export const restart = (options?: {
  readonly maxRestarts?: number | undefined
  readonly within?: Duration.Input | undefined
  readonly backoff?: Backoff | undefined
  /** Use this Schedule for the delays instead of `backoff` (in-process actors only). */
  readonly schedule?: Schedule.Schedule<unknown> | undefined
}): Supervision => ({
  _tag: "Restart",
  maxRestarts: options?.maxRestarts ?? 1,
  withinMillis: Duration.toMillis(Duration.fromInputUnsafe(options?.within ?? "5 seconds")),
  backoff: {
    initial: Duration.toMillis(Duration.fromInputUnsafe(options?.backoff?.initial ?? "10 millis")),
    factor: options?.backoff?.factor ?? 2,
    max: Duration.toMillis(Duration.fromInputUnsafe(options?.backoff?.max ?? "1 second")),
    jitter: options?.backoff?.jitter ?? true
  },
  schedule: options?.schedule
})

/** @internal the Schedule of restart delays a policy stands for */
export const scheduleOf = (policy: Extract<Supervision, { _tag: "Restart" }>): Schedule.Schedule<unknown> => {
  if (policy.schedule !== undefined) return policy.schedule
  const { initial, factor, max, jitter } = policy.backoff
  const capped = Schedule.exponential(Duration.millis(initial), factor).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.millis(max))))
  )
  return jitter ? Schedule.jittered(capped) : capped
}

/** @internal the wire form of a policy (a Schedule cannot travel; its parameters can) */
export type Encoded = null | ["resume"] | ["stop"] | ["restart", number, number, number, number, number, boolean]

/** @internal */
export const encode = (policy: Supervision | undefined): Encoded => {
  if (policy === undefined) return null
  if (policy._tag === "Resume") return ["resume"]
  if (policy._tag === "Stop") return ["stop"]
  const b = policy.backoff
  return ["restart", policy.maxRestarts, policy.withinMillis, b.initial, b.factor, b.max, b.jitter]
}

/** @internal the policy of a SPAWN frame, or undefined when it is malformed */
export const decode = (u: unknown): Supervision | undefined | "invalid" => {
  if (u === null) return undefined
  if (!Array.isArray(u)) return "invalid"
  if (u[0] === "resume" && u.length === 1) return resume
  if (u[0] === "stop" && u.length === 1) return stop
  const finite = (n: unknown, min: number) => typeof n === "number" && Number.isFinite(n) && n >= min
  if (
    u[0] === "restart" &&
    u.length === 7 &&
    finite(u[1], 0) &&
    finite(u[2], 0) &&
    finite(u[3], 0) &&
    finite(u[4], 1) &&
    finite(u[5], 0) &&
    typeof u[6] === "boolean"
  ) {
    return restart({
      maxRestarts: u[1],
      within: Duration.millis(u[2]),
      backoff: { initial: Duration.millis(u[3]), factor: u[4], max: Duration.millis(u[5]), jitter: u[6] }
    })
  }
  return "invalid"
}
