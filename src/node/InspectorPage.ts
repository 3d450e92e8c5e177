/**
 * InspectorPage: the inspector as a live web page, served with effect/http on Node. `/` is the page,
 * `/api/view` the latest view as JSON, `/api/events` one view per sample (server-sent events), and
 * `/metrics` every Effect Metric in Prometheus' text format (the inspector's series among them).
 * Import it from `troupe/inspector`; it needs `@effect/platform-node`.
 */
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Deferred, Effect, Layer, type Scope, Stream } from "effect"
import { HttpRouter, HttpServer, HttpServerError, type HttpServerRequest, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { Inspector, type View } from "../Inspector.ts"
import { page } from "./internal/page.ts"

export interface Options {
  /** Default 9400; 0 picks a free port (read it from `InspectorPage.url`). */
  readonly port?: number | undefined
  /** Default "127.0.0.1": the page shows actor ids and errors, so it stays local unless told otherwise. */
  readonly host?: string | undefined
}

/**
 * Where the page is served.
 *
 * @example
 * ```ts
 * const { url } = yield* InspectorPage.InspectorPage
 * console.log(`inspector at ${url}`)
 * ```
 */
export class InspectorPage extends Context.Service<InspectorPage, { readonly url: string }>()("troupe/InspectorPage") {}

const encoder = new TextEncoder()
// one serialization per sample, whatever the number of pages open
const events = new WeakMap<View, Uint8Array>()
const event = (view: View): Uint8Array => {
  let bytes = events.get(view)
  if (bytes === undefined) {
    bytes = encoder.encode(`data: ${JSON.stringify(view)}\n\n`)
    events.set(view, bytes)
  }
  return bytes
}

const loopback = new Set(["127.0.0.1", "localhost", "[::1]", "::1"])
const hostnameOf = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined
  const host = header.toLowerCase()
  return host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]
}

/**
 * Bound to a loopback address, the page answers only requests addressed to one: a web page elsewhere
 * that rebinds its own name to 127.0.0.1 (DNS rebinding) would otherwise read the actor ids and errors.
 */
const guarded =
  (bound: string, handler: Effect.Effect<HttpServerResponse.HttpServerResponse, never, Inspector | Scope.Scope>) =>
  (request: HttpServerRequest.HttpServerRequest) => {
    if (loopback.has(bound)) {
      const hostname = hostnameOf(request.headers["host"])
      if (hostname === undefined || !loopback.has(hostname)) {
        return Effect.succeed(HttpServerResponse.text("misdirected request", { status: 421 }))
      }
    }
    return handler
  }

const routes = (bound: string, closing: Deferred.Deferred<void>) =>
  HttpRouter.addAll([
    HttpRouter.route(
      "GET",
      "/",
      guarded(bound, Effect.succeed(HttpServerResponse.text(page, { contentType: "text/html; charset=utf-8" })))
    ),
    HttpRouter.route(
      "GET",
      "/api/view",
      guarded(
        bound,
        Effect.gen(function* () {
          const view = yield* (yield* Inspector).view
          return HttpServerResponse.jsonUnsafe(view, { headers: { "cache-control": "no-store" } })
        })
      )
    ),
    HttpRouter.route(
      "GET",
      "/api/events",
      guarded(
        bound,
        Effect.gen(function* () {
          const inspector = yield* Inspector
          return HttpServerResponse.stream(
            inspector.changes.pipe(
              // a client that does not read holds the latest view, not every view since it stalled
              Stream.buffer({ capacity: 1, strategy: "sliding" }),
              Stream.map(event),
              // the page's server is closing: end the stream, or the server waits for the client to leave
              Stream.interruptWhen(Deferred.await(closing))
            ),
            { contentType: "text/event-stream", headers: { "cache-control": "no-store" } }
          )
        })
      )
    ),
    // every Effect Metric of the program (the inspector's series among them), in Prometheus' text format
    HttpRouter.route(
      "GET",
      "/metrics",
      guarded(
        bound,
        Effect.map(PrometheusMetrics.format(), (body) =>
          HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" })
        )
      )
    )
  ])

/**
 * Serves the inspector's page; needs `Inspector.layer()` (from `troupe`).
 *
 * @example
 * ```ts
 * const Inspect = InspectorPage.layer({ port: 9400 }).pipe(Layer.provideMerge(Inspector.layer()))
 * program.pipe(Effect.provide(Layer.mergeAll(Workers.layer({ host }), Inspect)))
 * // open http://127.0.0.1:9400/
 * ```
 */
export const layer = (options: Options = {}): Layer.Layer<InspectorPage, HttpServerError.ServeError, Inspector> => {
  const host = options.host ?? "127.0.0.1"
  const server = NodeHttpServer.layer(() => createServer(), { port: options.port ?? 9400, host })
  const url = Layer.effect(
    InspectorPage,
    Effect.gen(function* () {
      const server = yield* HttpServer.HttpServer
      return { url: `${HttpServer.formatAddress(server.address)}/` }
    })
  )
  return Layer.effectContext(
    Effect.gen(function* () {
      const closing = yield* Deferred.make<void>()
      const app = HttpRouter.serve(routes(host, closing), {
        disableLogger: true,
        disableListenLog: true
      })
      const context = yield* Layer.build(Layer.mergeAll(app, url).pipe(Layer.provide(server)))
      // added after the server's finalizers, so it runs before them: the event streams end, and the
      // server's shutdown does not wait for their clients to leave
      yield* Effect.addFinalizer(() => Deferred.succeed(closing, undefined))
      return context
    })
  ) as Layer.Layer<InspectorPage, HttpServerError.ServeError, Inspector>
}
