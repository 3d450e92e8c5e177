/**
 * Host module for examples/streams.ts: Sensors with an endless stream of readings (it counts what it
 * produced and whether it is still running) and a faulty stream that fails with a declared error.
 */
import { Effect, Ref, Schema, Stream } from "effect"
import { Actor } from "troupe"

export const Reading = Schema.Struct({ sensor: Schema.String, seq: Schema.Int, celsius: Schema.Number })

export class SensorFault extends Schema.TaggedError<SensorFault>()("SensorFault", {
  sensor: Schema.String,
  seq: Schema.Int
}) {}

export const Sensors = Actor.make("Sensors", {
  /** Readings forever, as fast as the caller takes them. */
  readings: { payload: { sensor: Schema.String }, stream: Reading },
  /** Readings until the sensor breaks at `breaksAt`. */
  faulty: { payload: { sensor: Schema.String, breaksAt: Schema.Int }, stream: Reading, error: SensorFault },
  /** How many readings were produced, and how many streams are still running. */
  status: { success: Schema.Struct({ produced: Schema.Number, running: Schema.Number }) }
})

const reading = (sensor: string, seq: number) => ({ sensor, seq, celsius: 20 + Math.round(10 * Math.sin(seq)) / 10 })

export const SensorsLive = Sensors.toLayer(
  Effect.gen(function* () {
    const produced = yield* Ref.make(0)
    const running = yield* Ref.make(0)
    return Sensors.of({
      readings: ({ sensor }) =>
        Stream.iterate(0, (seq) => seq + 1).pipe(
          Stream.map((seq) => reading(sensor, seq)),
          Stream.tap(() => Ref.update(produced, (n) => n + 1)),
          Stream.onStart(Ref.update(running, (n) => n + 1)),
          Stream.ensuring(Ref.update(running, (n) => n - 1)) // runs when the caller stops taking
        ),
      faulty: ({ sensor, breaksAt }) =>
        Stream.range(0, breaksAt - 1).pipe(
          Stream.map((seq) => reading(sensor, seq)),
          Stream.concat(Stream.fail(new SensorFault({ sensor, seq: breaksAt })))
        ),
      status: () => Effect.all({ produced: Ref.get(produced), running: Ref.get(running) })
    })
  })
)
