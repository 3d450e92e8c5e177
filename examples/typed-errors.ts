/**
 * Typed errors across a boundary. Declared errors (Schema.TaggedError) cross a worker thread or child
 * process as themselves, so `catchTag` works whatever the backend; a defect (a thrown exception)
 * arrives as ActorError reason Defect with its name, message and stack. Every runtime failure is an
 * ActorError with a tagged reason: match on `reason._tag`, or catch one with `Effect.catchReason`.
 * DecodeError, Timeout, MailboxFull, Stopped, NotFound, UnknownProtocol and PeerDied are shown below.
 * Run: npx tsx examples/typed-errors.ts
 */
import { Effect, Layer } from "effect"
import { Actor, type ActorError, ActorRef } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { Bank } from "./hosts/bank.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/bank.ts", import.meta.url)

/** The reason of an ActorError, as a value: for the checks. */
const reasonOf = <A, R>(effect: Effect.Effect<A, ActorError.ActorError, R>) =>
  effect.pipe(
    Effect.map(() => "no error"),
    Effect.catchTag("ActorError", (e) => Effect.succeed(e.reason._tag))
  )

const declaredErrors = (label: string, bank: ActorRef.ActorRef<typeof Bank>) =>
  Effect.gen(function* () {
    yield* bank.deposit({ amount: 100 })
    const tooMuch = yield* bank
      .withdraw({ amount: 250 })
      .pipe(Effect.catchTag("InsufficientFunds", (e) => Effect.succeed(`only ${e.balance} of ${e.wanted}`)))
    yield* check(`${label}: a declared error, caught with catchTag`, tooMuch, "only 100 of 250")
    yield* bank.freeze()
    const frozen = yield* bank.withdraw({ amount: 10 }).pipe(
      Effect.catchTags({
        InsufficientFunds: () => Effect.succeed("insufficient"),
        AccountFrozen: (e) => Effect.succeed(`${e.account} is frozen`)
      })
    )
    yield* check(`${label}: one of two declared errors, with catchTags`, frozen, "main is frozen")
    const { reason } = yield* Effect.flip(bank.audit())
    console.log(`  ${label}: ${reason._tag}: ${reason.message}`)
    yield* check(
      `${label}: a thrown exception is a Defect, with the far side's stack`,
      reason._tag === "Defect" && [reason.name, reason.stack?.includes("hosts/bank.ts")],
      ["RangeError", true]
    )
  })

const program = Effect.gen(function* () {
  const inWorker = yield* Actor.spawn(Bank, { id: "bank", backend: Workers })
  const inChild = yield* Actor.spawn(Bank, { id: "bank", backend: Subprocess })
  yield* declaredErrors("worker thread", inWorker)
  yield* declaredErrors("child process", inChild)

  // a payload that breaks its Schema is refused before it is sent
  const negative = yield* inWorker.deposit({ amount: -5 }).pipe(
    Effect.map(() => "accepted"),
    Effect.catchReason("ActorError", "DecodeError", (e) => Effect.succeed(`${e.part}: ${e.message}`))
  )
  console.log(`  DecodeError ${negative.replace(/\n\s*/g, " ")}`)
  yield* check("DecodeError: the payload failed its Schema", negative.startsWith("payload: encode: Expected"), true)

  // a deadline: the handler on the far side is interrupted, so the actor answers the next call at once
  yield* check(
    "Timeout",
    yield* reasonOf(inWorker.report({ millis: 10_000 }).pipe(Actor.timeout("100 millis"))),
    "Timeout"
  )
  yield* check("the slow handler was interrupted", yield* inWorker.balance().pipe(Actor.timeout("2 seconds")), 100)

  // a mailbox of one with overflow "fail": the third concurrent call is refused
  const tiny = yield* Actor.spawn(Bank, { id: "tiny", backend: Workers, mailbox: { capacity: 1, overflow: "fail" } })
  const outcomes = yield* Effect.all(
    [1, 2, 3].map(() => reasonOf(tiny.report({ millis: 100 }))),
    { concurrency: "unbounded" }
  )
  yield* check("MailboxFull", outcomes, ["no error", "no error", "MailboxFull"])

  yield* Actor.stop(tiny)
  yield* check("Stopped: a call after Actor.stop", yield* reasonOf(tiny.balance()), "Stopped")
  yield* check("NotFound: no such id", yield* reasonOf(Actor.lookup(Bank, "nobody", { backend: Workers })), "NotFound")
  const Unlisted = Actor.make("Unlisted", { ping: {} }) // not exported by the host module
  yield* check(
    "UnknownProtocol: not on the host's allow-list",
    yield* reasonOf(Actor.spawn(Unlisted, { id: "u", backend: Workers })),
    "UnknownProtocol"
  )

  // the child process dies: calls fail at once, typed, instead of hanging
  const [node] = yield* (yield* Subprocess).nodes
  yield* node!.kill
  yield* check(`PeerDied: ${ActorRef.location(inChild)} was killed`, yield* reasonOf(inChild.balance()), "PeerDied")
})

run(program.pipe(Effect.provide(Layer.merge(Workers.layer({ host }), Subprocess.layer({ host })))))
