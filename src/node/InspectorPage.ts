/**
 * InspectorPage: the inspector as a live web page, served with effect/http on Node. `/` is the page,
 * `/api/view` the latest view as JSON, `/api/events` one view per sample (server-sent events), and
 * `/metrics` every Effect Metric in Prometheus' text format (the inspector's series among them).
 * Import it from `troupe/inspector`; it needs `@effect/platform-node`.
 */
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, Layer, Stream } from "effect"
import { HttpRouter, HttpServer, HttpServerError, HttpServerResponse } from "effect/http"
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
const event = (view: View): Uint8Array => encoder.encode(`data: ${JSON.stringify(view)}\n\n`)

const routes = HttpRouter.addAll([
  HttpRouter.route("GET", "/", HttpServerResponse.text(page, { contentType: "text/html; charset=utf-8" })),
  HttpRouter.route(
    "GET",
    "/api/view",
    Effect.gen(function* () {
      const view = yield* (yield* Inspector).view
      return HttpServerResponse.jsonUnsafe(view, { headers: { "cache-control": "no-store" } })
    })
  ),
  HttpRouter.route(
    "GET",
    "/api/events",
    Effect.gen(function* () {
      const inspector = yield* Inspector
      return HttpServerResponse.stream(
        Stream.concat(Stream.fromEffect(inspector.view), inspector.changes).pipe(Stream.map(event)),
        { contentType: "text/event-stream", headers: { "cache-control": "no-store" } }
      )
    })
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
  const server = NodeHttpServer.layer(() => createServer(), {
    port: options.port ?? 9400,
    host: options.host ?? "127.0.0.1"
  })
  const app = HttpRouter.serve(Layer.mergeAll(routes, PrometheusMetrics.layerHttp()), {
    disableLogger: true,
    disableListenLog: true
  })
  const url = Layer.effect(
    InspectorPage,
    Effect.gen(function* () {
      const server = yield* HttpServer.HttpServer
      return { url: `${HttpServer.formatAddress(server.address)}/` }
    })
  )
  return Layer.mergeAll(app, url).pipe(Layer.provide(server)) as Layer.Layer<
    InspectorPage,
    HttpServerError.ServeError,
    Inspector
  >
}
