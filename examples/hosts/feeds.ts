/**
 * Host module for the channel and topic examples: a Consumer that reads jobs from an inbox of its own,
 * a Producer that sends jobs to an endpoint it is given, and a Reader that subscribes to a news topic.
 */
import { Effect, Ref, Schema, Stream } from "effect"
import { Actor, ActorContext, Channel, Topic } from "troupe"

export const Job = Schema.Struct({ seq: Schema.Number, value: Schema.Number, from: Schema.String })
export const Jobs = Channel.make("jobs", Job)
export const News = Topic.make("news", Schema.Struct({ headline: Schema.String, n: Schema.Number }))

export const Consumer = Actor.make("Consumer", {
  inbox: { success: Jobs.Endpoint },
  /** Waits until `count` jobs were handled, then reports them. */
  handled: {
    payload: { count: Schema.Number },
    success: Schema.Struct({ sum: Schema.Number, seqs: Schema.Array(Schema.Number), where: Schema.String })
  }
})

export const ConsumerLive = Consumer.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    const inbox = yield* Channel.open(Jobs, { capacity: 16 }) // lives as long as the actor
    const seqs: Array<number> = []
    const sum = yield* Ref.make(0)
    yield* inbox.stream.pipe(
      Stream.runForEach((job) =>
        Ref.update(sum, (s) => s + job.value).pipe(Effect.andThen(Effect.sync(() => seqs.push(job.seq))))
      ),
      Effect.forkScoped
    )
    return Consumer.of({
      inbox: () => Effect.succeed(inbox.endpoint),
      handled: ({ count }) =>
        Effect.gen(function* () {
          while (seqs.length < count) yield* Effect.sleep("1 millis")
          return { sum: yield* Ref.get(sum), seqs: [...seqs], where: `${id} (pid ${process.pid})` }
        }).pipe(Effect.timeout("10 seconds"), Effect.orDie)
    })
  })
)

export const Producer = Actor.make("Producer", {
  produce: { payload: { to: Jobs.Endpoint, count: Schema.Number }, success: Schema.Number }
})

export const ProducerLive = Producer.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    return Producer.of({
      produce: ({ to, count }) =>
        Effect.gen(function* () {
          for (let seq = 0; seq < count; seq++) yield* Channel.send(to, { seq, value: seq * seq, from: id })
          return count
        })
    })
  })
)

export const Reader = Actor.make("Reader", {
  /** Subscribes (in the actor's scope) and starts collecting headlines. */
  follow: {},
  /** Waits until `count` headlines arrived, then returns them. */
  read: { payload: { count: Schema.Number }, success: Schema.Array(Schema.String) }
})

export const ReaderLive = Reader.toLayer(
  Effect.gen(function* () {
    const headlines: Array<string> = []
    return Reader.of({
      follow: () =>
        Effect.gen(function* () {
          const news = yield* Topic.subscribe(News, { capacity: 64 })
          yield* news.pipe(
            Stream.runForEach((item) => Effect.sync(() => headlines.push(item.headline))),
            Effect.forkScoped
          )
        }),
      read: ({ count }) =>
        Effect.gen(function* () {
          while (headlines.length < count) yield* Effect.sleep("1 millis")
          return [...headlines]
        }).pipe(Effect.timeout("10 seconds"), Effect.orDie)
    })
  })
)
