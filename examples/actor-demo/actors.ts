/**
 * The actor demo's host module: its protocols, channels and behaviours. actor-demo.ts uses them
 * in-process; worker threads and child processes load this module (Workers.layer, Subprocess.layer)
 * and remote-server.ts serves it over TCP. Its exported behaviour Layers are the kinds that may be
 * spawned there, and nothing else.
 */
import { Effect, Ref, Schema, Stream } from "effect"
import { threadId } from "node:worker_threads"
import { Actor, ActorContext, Channel } from "troupe"

/** Where an actor runs: its id, process and thread (0 is a process's main thread). */
export const Where = Schema.Struct({ id: Schema.String, pid: Schema.Number, thread: Schema.Number })
const where = (id: string) => ({ id, pid: process.pid, thread: threadId })

// ---------------------------------------------------------------------------------------- channels

/** What producers send to consumers. */
export const Message = Schema.Struct({ seq: Schema.Int, text: Schema.String, from: Schema.String })
export const Messages = Channel.make("messages", Message)

/** What calculators send to the aggregator. */
export const Result = Schema.Struct({ from: Schema.String, expression: Schema.String, value: Schema.Number })
export const Results = Channel.make("results", Result)

// -------------------------------------------------------------------------------------- Calculator

export class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", { dividend: Schema.Number }) {}

const Operands = { a: Schema.Number, b: Schema.Number }

export const Calculator = Actor.make("Calculator", {
  add: { payload: Operands, success: Schema.Number },
  multiply: { payload: Operands, success: Schema.Number },
  divide: { payload: Operands, success: Schema.Number, error: DivideByZero },
  history: { success: Schema.Array(Schema.String) },
  countdown: { payload: { from: Schema.Int }, stream: Schema.Int },
  info: { success: Where },
  /** Computes `a op b` and sends the result over a channel to `to`; returns it too. */
  submit: {
    payload: { ...Operands, op: Schema.Literals(["add", "multiply"]), to: Results.Endpoint },
    success: Schema.Number
  }
})

export const CalculatorLive = Calculator.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    const history = yield* Ref.make<ReadonlyArray<string>>([])
    const record = (expression: string, value: number) =>
      Ref.update(history, (h) => [...h, `${expression} = ${value}`]).pipe(Effect.as(value))
    return Calculator.of({
      add: ({ a, b }) => record(`${a} + ${b}`, a + b),
      multiply: ({ a, b }) => record(`${a} * ${b}`, a * b),
      divide: ({ a, b }) => (b === 0 ? Effect.fail(new DivideByZero({ dividend: a })) : record(`${a} / ${b}`, a / b)),
      history: () => Ref.get(history),
      countdown: ({ from }) => Stream.range(0, from).pipe(Stream.map((i) => from - i)),
      info: () => where(id),
      submit: ({ a, b, op, to }) =>
        Effect.gen(function* () {
          const expression = op === "add" ? `${a} + ${b}` : `${a} * ${b}`
          const value = yield* record(expression, op === "add" ? a + b : a * b)
          yield* Channel.send(to, { from: id, expression, value })
          return value
        })
    })
  })
)

// ----------------------------------------------------------------------------------- DataProcessor

export const Stats = Schema.Struct({
  processor: Schema.String,
  count: Schema.Number,
  sum: Schema.Number,
  mean: Schema.Number,
  min: Schema.Number,
  max: Schema.Number
})

export const DataProcessor = Actor.make("DataProcessor", {
  process: { payload: { values: Schema.Array(Schema.Number) }, success: Schema.Number },
  stats: { success: Stats },
  percentile: { payload: { p: Schema.Number }, success: Schema.Number },
  info: { success: Where }
})

/** A plain class, no Effect in sight: the Python seed's "any class can become an actor". */
class DataProcessorImpl {
  private readonly values: Array<number> = []
  private readonly id: string
  constructor(id: string) {
    this.id = id
  }
  process({ values }: { values: ReadonlyArray<number> }) {
    this.values.push(...values)
    return values.length
  }
  stats() {
    const sum = this.values.reduce((a, b) => a + b, 0)
    const count = this.values.length
    return {
      processor: this.id,
      count,
      sum,
      mean: count ? sum / count : 0,
      min: Math.min(...this.values),
      max: Math.max(...this.values)
    }
  }
  percentile({ p }: { p: number }) {
    if (p < 0 || p > 100) throw new RangeError(`percentile ${p} is not between 0 and 100`)
    const sorted = [...this.values].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
  }
  info() {
    return where(this.id)
  }
}

export const DataProcessorLive = DataProcessor.toLayer(Effect.map(ActorContext, ({ id }) => new DataProcessorImpl(id)))

// -------------------------------------------------------------------------------- Producer, Consumer

export const Producer = Actor.make("Producer", {
  /** Sends each text, numbered, to every endpoint; returns how many messages were sent. */
  produce: {
    payload: { texts: Schema.Array(Schema.String), to: Schema.Array(Messages.Endpoint) },
    success: Schema.Int
  },
  info: { success: Where }
})

export const ProducerLive = Producer.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    return Producer.of({
      produce: ({ texts, to }) =>
        Effect.forEach(to, (endpoint) =>
          Effect.forEach(texts, (text, seq) => Channel.send(endpoint, { seq, text, from: id }))
        ).pipe(Effect.as(texts.length * to.length)),
      info: () => where(id)
    })
  })
)

export const Processed = Schema.Struct({ seq: Schema.Int, text: Schema.String, from: Schema.String })

export const Consumer = Actor.make("Consumer", {
  /** The endpoint of this consumer's inbox: give it to producers. */
  endpoint: { success: Messages.Endpoint },
  /** Receives up to `count` messages, waiting at most `timeoutMs` for each, and processes them. */
  consume: {
    payload: { count: Schema.Int, timeoutMs: Schema.Number },
    success: Schema.Struct({ processed: Schema.Array(Processed), timedOut: Schema.Boolean })
  },
  info: { success: Where }
})

export const ConsumerLive = Consumer.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    const inbox = yield* Channel.open(Messages) // open while the actor lives
    return Consumer.of({
      endpoint: () => inbox.endpoint,
      consume: ({ count, timeoutMs }) =>
        Effect.gen(function* () {
          const processed: Array<typeof Processed.Type> = []
          while (processed.length < count) {
            const message = yield* inbox
              .receive({ timeout: timeoutMs })
              .pipe(Effect.catchReason("ActorError", "Timeout", () => Effect.succeed(undefined)))
            if (message === undefined) return { processed, timedOut: true }
            processed.push({ seq: message.seq, text: message.text.toUpperCase(), from: message.from })
          }
          return { processed, timedOut: false }
        }),
      info: () => where(id)
    })
  })
)

// -------------------------------------------------------------------------------------- Aggregator

export const Aggregator = Actor.make("Aggregator", {
  endpoint: { success: Results.Endpoint },
  /** Receives `count` results (waiting at most `timeoutMs` for each) and returns them, sorted by sender. */
  collect: {
    payload: { count: Schema.Int, timeoutMs: Schema.Number },
    success: Schema.Struct({ results: Schema.Array(Result), total: Schema.Number })
  },
  info: { success: Where }
})

export const AggregatorLive = Aggregator.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    const inbox = yield* Channel.open(Results)
    return Aggregator.of({
      endpoint: () => inbox.endpoint,
      collect: ({ count, timeoutMs }) =>
        inbox.stream.pipe(
          Stream.timeout(timeoutMs),
          Stream.take(count),
          Stream.runCollect,
          Effect.map((results) => ({
            results: [...results].sort((x, y) => x.from.localeCompare(y.from)),
            total: results.reduce((sum, r) => sum + r.value, 0)
          }))
        ),
      info: () => where(id)
    })
  })
)
