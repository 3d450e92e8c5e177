/**
 * Calls over TCP on 127.0.0.1, `{ a, b } → a + b`: Troupe's remote backend against a server process
 * without Troupe, in this process and this run, with the workloads and placements of worker.bench.ts
 * (lib/wire.ts):
 *
 *   - pipelined calls: 64 fibers (or 64 async loops) each doing n/64 sequential calls, so 64 in flight;
 *   - sequential calls: one caller, one call in flight, every call timed (p50/p99), under the
 *     scheduler's placement, caller and server on the same CPU, and on different CPUs;
 *   - calls to an idle peer: single calls, each after 5 ms in which caller and server sleep.
 *
 * Every server is a process of its own, started before anything is measured:
 *   - Troupe remote: `troupe serve` (dist/node/cli.js) with the host module hosts/adder.ts and a secret
 *     (TROUPE_SECRET), so the HMAC handshake runs; the client is `Remote.layer({ host, port, secret })`
 *     and calls `ref.add({ a, b })` on an actor spawned with `backend: Remote`.
 *   - raw TCP (one write per message): hosts/raw-tcp-server.ts; `{ id, a, b }` → `{ id, r }` as
 *     length-prefixed CBOR frames, one `socket.write` per message on both sides, replies matched by id.
 *   - raw TCP (batched writes): the same, with the frames of one tick coalesced into one write.
 *   - effect/rpc 4.1: hosts/rpc-tcp-server.ts, `RpcServer.layerProtocolSocketServer` +
 *     `NodeSocketServer.layer`; the client is `RpcClient.make` over `RpcClient.layerProtocolSocket` +
 *     `NodeSocket.layerNet`. Three configurations: the defaults (`RpcSerialization.layerNdjson`), and two
 *     tuned ones with a binary serialization (`layerSchemaBinary()`, or the CBOR one of
 *     hosts/rpc-cbor.ts), `disableTracing: true` on client and server, and Nagle off on both sockets.
 *
 * The raw peers and Troupe set `noDelay` on their sockets; so do the tuned effect/rpc rows.
 */
import { NodeSocket } from "@effect/platform-node"
import { Effect, Exit, Layer, ManagedRuntime, Redacted, Scope } from "effect"
import { RpcClient } from "effect/rpc"
import type { ChildProcess } from "node:child_process"
import { once } from "node:events"
import { connect } from "node:net"
import { fileURLToPath } from "node:url"
import { Actor } from "troupe"
import { Remote } from "troupe/node"
import { byId, effectCalls, effectCasts, promiseCalls, rawCasts, type CallDriver } from "./lib/drivers.ts"
import { frameReader, frameWriter, makeCbor, type WriteMode } from "./lib/frames.ts"
import { bar, expectEqual, formatRatio, formatUs, header, pick } from "./lib/harness.ts"
import { forkServer as forkBenchServer, startTroupeServe, stopForked } from "./lib/serve.ts"
import { measureCasts, measureWire } from "./lib/wire.ts"
import { Adder } from "./hosts/adder.ts"
import { type RpcVariant, serializationFor } from "./hosts/rpc-cbor.ts"
import { AdderRpcs } from "./hosts/rpc-group.ts"

const adderHost = fileURLToPath(new URL("./hosts/adder.ts", import.meta.url))
const rawServer = fileURLToPath(new URL("./hosts/raw-tcp-server.ts", import.meta.url))
const rpcServer = fileURLToPath(new URL("./hosts/rpc-tcp-server.ts", import.meta.url))
const host = "127.0.0.1"
const secret = "bench: correct horse battery staple"

header(
  "bench/tcp.bench.ts",
  "TCP on 127.0.0.1: Troupe remote vs raw TCP (cbor-x frames) and effect/rpc; {a, b} → a + b"
)

const troupe = "Troupe remote (troupe serve)"
const rawOneName = "raw TCP, one write per message"
const rawBatchedName = "raw TCP, batched writes"
const rpcNames: Record<RpcVariant, string> = {
  defaults: "effect/rpc 4.1 (defaults: ndjson)",
  "schema-binary": "effect/rpc 4.1 (tuned: schemaBinary)",
  cbor: "effect/rpc 4.1 (tuned: cbor)"
}

const children: Array<ChildProcess> = []
/** Forks a bench server script (kept for the teardown) and waits for the port it reports over IPC. */
const forkServer = async (script: string, arg: string): Promise<{ child: ChildProcess; port: number }> => {
  const forked = await forkBenchServer(script, [arg])
  children.push(forked.child)
  return forked
}

// ------------------------------------------------------------------ Troupe: troupe serve

// auth is on (startTroupeServe checks): the figures are for an authenticated connection
const { served, port: servedPort } = await startTroupeServe(adderHost, { host, secret })
const troupeRuntime = ManagedRuntime.make(Remote.layer({ host, port: servedPort, secret: Redacted.make(secret) }))
const adder = await troupeRuntime.runPromise(Actor.spawn(Adder, { id: "adder", backend: Remote }))
expectEqual("Troupe add", await Effect.runPromise(adder.add({ a: 1, b: 2 })), 3)

// ------------------------------------------------------------------ raw TCP

interface Reply {
  readonly id: number
  readonly r: number
}
const rawClient = async (mode: WriteMode) => {
  const { child, port } = await forkServer(rawServer, mode)
  const socket = connect({ host, port, noDelay: true })
  await once(socket, "connect")
  const cbor = makeCbor()
  const write = frameWriter(socket, cbor, mode)
  const raw = byId(write)
  socket.on(
    "data",
    frameReader(cbor, (m: Reply) => raw.receive(m))
  )
  expectEqual(`raw add (${mode})`, await raw.call(1, 2), 3)
  return { child, socket, raw, write }
}
const rawOne = await rawClient("one-write")
const rawBatched = await rawClient("batched")

// ------------------------------------------------------------------ effect/rpc

const rpcClient = async (variant: RpcVariant) => {
  const { child, port } = await forkServer(rpcServer, variant)
  const tuned = variant !== "defaults"
  const serialization = serializationFor(variant)
  const protocol = RpcClient.layerProtocolSocket().pipe(
    Layer.provide(NodeSocket.layerNet({ host, port, ...(tuned ? { noDelay: true } : {}) })),
    Layer.provide(serialization)
  )
  const runtime = ManagedRuntime.make(protocol)
  const scope = Effect.runSync(Scope.make())
  const client = await runtime.runPromise(
    Scope.provide(scope)(RpcClient.make(AdderRpcs, tuned ? { disableTracing: true } : undefined))
  )
  expectEqual(`effect/rpc add (${variant})`, await Effect.runPromise(client.add({ a: 1, b: 2 })), 3)
  const close = async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    await runtime.dispose()
  }
  return { child, client, close }
}
const rpcDefaults = await rpcClient("defaults")
const rpcSchemaBinary = await rpcClient("schema-binary")
const rpcCbor = await rpcClient("cbor")

// ------------------------------------------------------------------ measure

const systems: ReadonlyArray<readonly [string, CallDriver]> = [
  [troupe, effectCalls((a, b) => adder.add({ a, b }))],
  [rawOneName, promiseCalls(rawOne.raw.call)],
  [rawBatchedName, promiseCalls(rawBatched.raw.call)],
  [rpcNames.defaults, effectCalls((a, b) => rpcDefaults.client.add({ a, b }))],
  [rpcNames["schema-binary"], effectCalls((a, b) => rpcSchemaBinary.client.add({ a, b }))],
  [rpcNames.cbor, effectCalls((a, b) => rpcCbor.client.add({ a, b }))]
]

const { pipelined, sequential, idle } = await measureWire(systems, {
  troupe,
  peers: [
    served.pid!,
    rawOne.child.pid!,
    rawBatched.child.pid!,
    ...[rpcDefaults, rpcSchemaBinary, rpcCbor].map((r) => r.child.pid!)
  ],
  pipelinedRounds: 11,
  sequentialRounds: 30,
  idleSamples: 150,
  idlePauseMs: 5
})

await measureCasts(
  [
    [troupe, effectCasts((a, b) => adder.note({ a, b }), adder.noted())],
    [rawOneName, rawCasts(rawOne.write, rawOne.raw.call)],
    [rawBatchedName, rawCasts(rawBatched.write, rawBatched.raw.call)]
  ],
  troupe
)

// ------------------------------------------------------------------ bars

console.log("")
const rate = (name: string) => pick(pipelined, name).perSec
const overRaw = rate(troupe) / rate(rawOneName)
bar(
  "Troupe remote pipelined ≥ 1.2× raw TCP (one write per message)",
  overRaw >= 1.2,
  `${formatRatio(overRaw)} (${Math.round(rate(troupe))} vs ${Math.round(rate(rawOneName))} calls/s)`
)
console.log(
  `info: Troupe remote pipelined ÷ raw TCP with batched writes = ${formatRatio(rate(troupe) / rate(rawBatchedName))} (not a bar)`
)
const tunedRpc = [rpcNames["schema-binary"], rpcNames.cbor].reduce((best, name) =>
  rate(name) > rate(best) ? name : best
)
const overRpc = rate(troupe) / rate(tunedRpc)
bar(
  "Troupe remote pipelined ≥ 4× effect/rpc (its best configuration in this run)",
  overRpc >= 4,
  `${formatRatio(overRpc)} against ${tunedRpc} (${Math.round(rate(troupe))} vs ${Math.round(rate(tunedRpc))} calls/s); ` +
    `${formatRatio(rate(troupe) / rate(rpcNames.defaults))} against the defaults`
)
const fixed = sequential.filter((p) => p.key !== "scheduler")
for (const p of sequential) {
  const p50 = (name: string) => pick(p.results, name).p50Us!
  const ratio = p50(troupe) / p50(rawOneName)
  const detail = `${formatUs(p50(troupe))} vs ${formatUs(p50(rawOneName))} µs = ${formatRatio(ratio)}`
  if (fixed.length === 0 || p.key !== "scheduler") {
    bar(`Troupe remote sequential p50 ≤ 1.25× raw TCP's (one write) (${p.label})`, ratio <= 1.25, detail)
  } else console.log(`info: sequential p50, ${p.label}: ${detail} (not judged: placement differs by system)`)
}
const idleTroupe = idle.find((r) => r.name === troupe)!
const idleRaw = idle.find((r) => r.name === rawOneName)!
console.log(
  `info: to an idle peer, Troupe p50 ${formatUs(idleTroupe.p50Us)} µs vs raw TCP ${formatUs(idleRaw.p50Us)} µs = ${formatRatio(idleTroupe.p50Us / idleRaw.p50Us)} (not a bar)`
)

// ------------------------------------------------------------------ teardown

await troupeRuntime.dispose()
served.kill("SIGTERM")
await once(served, "exit")
rawOne.socket.destroy()
rawBatched.socket.destroy()
await rpcDefaults.close()
await rpcSchemaBinary.close()
await rpcCbor.close()
for (const child of children) await stopForked(child)
