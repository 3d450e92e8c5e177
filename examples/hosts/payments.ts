/**
 * Host module for examples/tracing.ts: a Payments actor, and the tracer of the node it runs on. Each
 * node that runs this module records the spans it makes (a real program would export them, e.g. with
 * an OTLP tracer), and Payments can say which spans of a trace were made here.
 */
import { Effect, Layer, Option, Schema, Tracer } from "effect"
import { Actor } from "troupe"

export const SpanSeen = Schema.Struct({
  name: Schema.String,
  spanId: Schema.String,
  parent: Schema.NullOr(Schema.String)
})

const seen: Array<Tracer.NativeSpan> = []

/** This node's tracer: keeps every span it makes. */
export const Recording = Layer.succeed(
  Tracer.Tracer,
  Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      seen.push(span)
      return span
    }
  })
)

/** The spans of one trace made on this node. */
export const spansOf = (traceId: string): Array<typeof SpanSeen.Type> =>
  seen
    .filter((s) => s.traceId === traceId)
    .map((s) => ({ name: s.name, spanId: s.spanId, parent: Option.getOrNull(Option.map(s.parent, (p) => p.spanId)) }))

export const Payments = Actor.make("Payments", {
  charge: { payload: { order: Schema.String, cents: Schema.Int }, success: Schema.String },
  /** The spans of a trace that this node made. */
  spans: { payload: { traceId: Schema.String }, success: Schema.Array(SpanSeen) }
})

export const PaymentsLive = Payments.toLayer(
  Effect.succeed(
    Payments.of({
      charge: ({ order, cents }) => Effect.succeed(`${order}: charged ${(cents / 100).toFixed(2)}`),
      spans: ({ traceId }) => Effect.sync(() => spansOf(traceId))
    })
  )
).pipe(Layer.provide(Recording))
