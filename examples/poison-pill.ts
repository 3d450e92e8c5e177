/**
 * Poison pill: a graceful stop handles what is already queued, refuses what comes later with a typed
 * error, and runs the behaviour's finalizers. The id can then be spawned again, with fresh state.
 * Run: npx tsx examples/poison-pill.ts
 */
import { Effect, Ref, Schema } from "effect"
import { Actor, ActorContext } from "troupe"
import { check, run } from "./support/check.ts"

const Worker = Actor.make("Worker", {
  work: { payload: { job: Schema.Number }, cast: true },
  done: { success: Schema.Array(Schema.Number) },
  quit: { cast: true }
})

const closed: Array<string> = []

const WorkerLive = Worker.toLayer(
  Effect.gen(function* () {
    const ctx = yield* ActorContext
    const done = yield* Ref.make<ReadonlyArray<number>>([])
    yield* Effect.addFinalizer(() => Effect.sync(() => closed.push(ctx.id)))
    return Worker.of({
      work: ({ job }) => Ref.update(done, (d) => [...d, job]),
      done: () => Ref.get(done),
      quit: () => ctx.stop // the poison pill, sent by the actor to itself
    })
  })
)

const program = Effect.gen(function* () {
  const worker = yield* Actor.spawn(Worker, { id: "worker" })
  for (const job of [1, 2, 3]) yield* worker.work({ job })
  yield* check("three jobs handled", yield* worker.done(), [1, 2, 3])

  yield* Actor.stop(worker) // graceful: drains, then finalizers
  yield* check("finalizer ran", closed, ["worker"])
  const late = yield* worker.work({ job: 4 }).pipe(Effect.catchTag("ActorError", (e) => Effect.succeed(e.reason._tag)))
  yield* check("a message after stop fails typed", late, "Stopped")

  const again = yield* Actor.spawn(Worker, { id: "worker" })
  yield* check("the id is reused, with fresh state", yield* again.done(), [])
  yield* again.quit() // the actor stops itself
  const afterQuit = yield* again.done().pipe(Effect.catchTag("ActorError", (e) => Effect.succeed(e.reason._tag)))
  yield* check("an actor can take its own poison pill", afterQuit, "Stopped")
})

run(program.pipe(Effect.provide(WorkerLive)))
