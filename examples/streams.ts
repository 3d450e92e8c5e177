/**
 * Streams across backends. A stream method's reply is a Stream on the caller's side, pulled over the
 * wire with back-pressure (the producer runs only as far as the caller's credit):
 * - `Stream.take` on an endless stream, and leaving early stops the producer on the far side;
 * - a declared error in the middle of a stream arrives typed, after the elements before it;
 * - streams from a worker thread and a child process merged into one.
 * Run: npx tsx examples/streams.ts
 */
import { Effect, Layer, Schedule, Stream } from "effect"
import { Actor, ActorRef } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { Sensors } from "./hosts/sensors.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/sensors.ts", import.meta.url)

const exercise = (label: string, sensors: ActorRef.ActorRef<typeof Sensors>) =>
  Effect.gen(function* () {
    const first = yield* sensors.readings({ sensor: "t1" }).pipe(Stream.take(5), Stream.runCollect)
    yield* check(
      `${label}: the first 5 of an endless stream`,
      first.map((r) => r.seq),
      [0, 1, 2, 3, 4]
    )
    // leaving the stream interrupted the producer: wait for its finalizer to have run
    const status = yield* sensors
      .status()
      .pipe(
        Effect.repeat({ until: (s) => s.running === 0, schedule: Schedule.spaced("10 millis") }),
        Effect.timeout("5 seconds")
      )
    yield* check(
      `${label}: leaving early stopped the producer, after ${status.produced} readings (its credit bounds it)`,
      [status.running, status.produced < 1000],
      [0, true]
    )

    const upToFault = yield* sensors.faulty({ sensor: "t2", breaksAt: 3 }).pipe(
      Stream.map((r) => `#${r.seq}`),
      Stream.catchTag("SensorFault", (e) => Stream.make(`SensorFault at #${e.seq}`)),
      Stream.runCollect
    )
    yield* check(`${label}: a typed failure mid-stream`, upToFault, ["#0", "#1", "#2", "SensorFault at #3"])
  })

const program = Effect.gen(function* () {
  const inWorker = yield* Actor.spawn(Sensors, { id: "sensors", backend: Workers })
  const inChild = yield* Actor.spawn(Sensors, { id: "sensors", backend: Subprocess })
  yield* exercise("worker thread", inWorker)
  yield* exercise("child process", inChild)

  const merged = yield* Stream.merge(
    inWorker.readings({ sensor: "worker" }).pipe(Stream.take(3)),
    inChild.readings({ sensor: "child" }).pipe(Stream.take(3))
  ).pipe(Stream.runCollect)
  yield* check(
    `merged: 3 readings from ${ActorRef.location(inWorker)} and 3 from ${ActorRef.location(inChild)}`,
    ["worker", "child"].map((sensor) => merged.filter((r) => r.sensor === sensor).map((r) => r.seq)),
    [
      [0, 1, 2],
      [0, 1, 2]
    ]
  )
})

run(program.pipe(Effect.provide(Layer.merge(Workers.layer({ host }), Subprocess.layer({ host })))))
