/**
 * Trace context across actors: a call, cast or stream sent from inside a span runs its handler in a
 * child span ("Protocol.method"), on whichever node the actor lives; over the wire the parent travels
 * as [traceId, spanId, sampled]. A message sent outside any span carries nothing and costs nothing.
 */
import { Context, Effect, type Fiber, Option, Tracer } from "effect"
import type { Method } from "../Protocol.ts"

/**
 * The span a message sent from `fiber` belongs under: the fiber's current span, if it has one, as
 * `Effect.withSpan` would pick it (not with tracing turned off, past spans that disable propagation, not
 * a no-op span). Read off the fiber's cache of its context, not looked up in it: this runs on every call.
 */
export const parentOf = (fiber: Fiber.Fiber<unknown, unknown> | undefined): Tracer.AnySpan | undefined => {
  const cache = fiber?.cache
  let span = cache?.span
  if (span === undefined || !cache!.tracerEnabled) return undefined
  while (span !== undefined && Context.get(span.annotations, Tracer.DisablePropagation)) {
    span = span._tag === "Span" ? Option.getOrUndefined(span.parent) : undefined
  }
  return span === undefined || span.spanId === "noop" ? undefined : span
}

/** A parent span as it travels in CALL, CAST and STREAM frames. */
export type Encoded = readonly [traceId: string, spanId: string, sampled: boolean]

export const encode = (span: Tracer.AnySpan): Encoded => [span.traceId, span.spanId, span.sampled]

// ids are 32 and 16 hex digits in OpenTelemetry; other tracers' are short strings too
const isId = (u: unknown): u is string => typeof u === "string" && u.length > 0 && u.length <= 64

export const isEncoded = (u: unknown): u is Encoded =>
  Array.isArray(u) && u.length === 3 && isId(u[0]) && isId(u[1]) && typeof u[2] === "boolean"

export const decode = (encoded: Encoded): Tracer.ExternalSpan =>
  Tracer.externalSpan({ traceId: encoded[0], spanId: encoded[1], sampled: encoded[2] })

/** A handler's Effect in its span: a server span for calls and streams, a consumer span for casts. */
export const inSpan = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  protocol: string,
  method: Method,
  actorId: string,
  parent: Tracer.AnySpan
): Effect.Effect<A, E, R> =>
  Effect.withSpan(effect, `${protocol}.${method.name}`, {
    parent,
    kind: method.kind === "cast" ? "consumer" : "server",
    attributes: { "troupe.actor": actorId },
    // the stack would always point here, at the cell, and capturing it was most of a span's cost
    captureStackTrace: false
  })
