/**
 * The comlink peer: a plain worker thread exposing `{ add(a, b) }` with `Comlink.expose` over comlink's
 * own Node adapter (`nodeEndpoint`, from comlink 4.4's `dist/esm/node-adapter.mjs`).
 */
import * as Comlink from "comlink/dist/esm/comlink.mjs"
import nodeEndpoint from "comlink/dist/esm/node-adapter.mjs"
import { parentPort } from "node:worker_threads"

export interface AdderApi {
  add(a: number, b: number): number
}

const api: AdderApi = { add: (a, b) => a + b }
Comlink.expose(api, nodeEndpoint(parentPort!))
