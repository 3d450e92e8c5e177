/**
 * What a handler may return, normalized: behaviours written as Effect code or as plain classes return
 * Effects, Promises or plain values (a stream method: a Stream, an iterable or an async iterable). The
 * actor cell and the cluster adapter both run handlers, and must read their results the same way.
 */
import { Effect, Exit, Stream } from "effect"

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as any).then === "function"

/** A call's or a cast's result as an Effect; a plain value is an Exit, so it is answered without a fiber. */
export const effectOf = (out: unknown): Effect.Effect<unknown, unknown> => {
  if (Effect.isEffect(out)) return out as Effect.Effect<unknown, unknown>
  if (isPromiseLike(out)) return Effect.promise(() => out)
  return Exit.succeed(out)
}

/** A stream method's result as a Stream; an async iterable that throws dies. */
export const streamOf = (out: unknown): Stream.Stream<unknown, unknown> =>
  Stream.isStream(out)
    ? (out as Stream.Stream<unknown, unknown>)
    : typeof (out as any)?.[Symbol.asyncIterator] === "function"
      ? Stream.fromAsyncIterable(out as AsyncIterable<unknown>, (e) => e).pipe(Stream.orDie)
      : Stream.fromIterable(out as Iterable<unknown>)
