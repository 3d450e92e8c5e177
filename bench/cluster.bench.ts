/**
 * troupe/cluster, `{ a, b } → a + b`: a Troupe protocol hosted as an effect/cluster entity, called
 * through Troupe's ref and through the cluster's own client, against a hand-written effect/cluster
 * entity with the same rpc (no Troupe), and Troupe's own remote backend for context; all in this
 * process and this run, with the workloads and placements of tcp.bench.ts (lib/wire.ts):
 *
 *   - pipelined calls: 64 fibers each doing n/64 sequential calls, so 64 in flight;
 *   - sequential calls: one caller, one call in flight, every call timed (p50/p99), under the
 *     scheduler's placement, caller and server on the same CPU, and on different CPUs;
 *   - calls to an idle peer: single calls, each after 5 ms in which caller and server sleep.
 *
 * Over TCP: a runner process (hosts/cluster-runner.ts, in-memory storage) hosts both entities of
 * hosts/cluster-entities.ts and takes every shard. This process joins it as a client-only Sharding
 * whose runner storage names that runner, so every message crosses a socket to another process, and
 * the three cluster rows of a runner differ only in the entity and the client:
 *   - Cluster.ref: `Cluster.ref(Adder, id)`, an ActorRef over the entity client;
 *   - entity client: `(yield* Cluster.toEntity(Adder).client)(id)`, the same entity without the ref;
 *   - plain entity: `Entity.fromRpcGroup("PlainAdder", AdderRpcs)`, handler `({ payload }) => a + b`.
 * There are two runners: "stock", `NodeClusterSocket.layer` as shipped (Nagle on), and "Nagle off", the
 * same pieces with `noDelay` on both ends of the socket. For context, Troupe remote: `troupe serve`
 * hosting hosts/adder.ts with a secret, as in tcp.bench.ts.
 *
 * In one process: the same three cluster rows on a `TestRunner` (no socket; it still serializes every
 * message, `simulateRemoteSerialization`), which separates the adapter's CPU cost from the transport's;
 * the adapter and the plain entity again with a stateful handler (`Ref.modify`); and a Troupe
 * in-process actor for scale.
 */
import { NodeClusterSocket, NodeSocket } from "@effect/platform-node"
import { Effect, Layer, ManagedRuntime, Redacted, References } from "effect"
import {
  MessageStorage,
  Runner,
  RunnerAddress,
  Runners,
  RunnerStorage,
  ShardingConfig,
  SocketRunner,
  TestRunner
} from "effect/cluster"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { Socket } from "effect/socket"
import { once } from "node:events"
import { fileURLToPath } from "node:url"
import { Actor, ActorSystem } from "troupe"
import * as Cluster from "troupe/cluster"
import { Remote } from "troupe/node"
import { effectCalls, inFlight, type CallDriver } from "./lib/drivers.ts"
import {
  expectEqual,
  formatRatio,
  formatUs,
  header,
  measureInterleaved,
  pick,
  printTable,
  section,
  warmUpAll,
  type Result
} from "./lib/harness.ts"
import { forkServer, startTroupeServe, stopForked } from "./lib/serve.ts"
import { measureWire } from "./lib/wire.ts"
import { Adder, AdderLive } from "./hosts/adder.ts"
import { CountingAdder, EntitiesLive, PlainAdder, PlainCountingAdder } from "./hosts/cluster-entities.ts"

const adderHost = fileURLToPath(new URL("./hosts/adder.ts", import.meta.url))
const clusterRunner = fileURLToPath(new URL("./hosts/cluster-runner.ts", import.meta.url))
const host = "127.0.0.1"
const secret = "bench: correct horse battery staple"

header(
  "bench/cluster.bench.ts",
  "effect/cluster: Troupe's adapter vs a plain entity, over TCP and in one process; {a, b} → a + b"
)

const names = {
  ref: "Cluster.ref (troupe/cluster), stock runner",
  client: "entity client (Cluster.toEntity), stock runner",
  plain: "plain effect/cluster entity, stock runner",
  refFast: "Cluster.ref, runner with Nagle off",
  clientFast: "entity client, runner with Nagle off",
  plainFast: "plain entity, runner with Nagle off",
  remote: "Troupe remote (troupe serve)",
  refLocal: "Cluster.ref, TestRunner",
  clientLocal: "entity client, TestRunner",
  plainLocal: "plain entity, TestRunner",
  refCounting: "Cluster.ref, Ref.modify handler, TestRunner",
  plainCounting: "plain entity, Ref.modify handler, TestRunner",
  actorLocal: "Troupe in-process actor"
}
const quiet = Layer.succeed(References.MinimumLogLevel, "Warn")
/** The entity id every cluster row calls. */
const id = "adder"

// ------------------------------------------------------------------ effect/cluster over TCP

type RunnerVariant = "stock" | "nagle-off"

/** NodeClusterSocket's client protocol (the same socket options), with Nagle off. */
const clientProtocolNagleOff = Layer.effect(Runners.RpcClientProtocol)(
  Effect.gen(function* () {
    const serialization = yield* RpcSerialization.RpcSerialization
    return {
      codecFor: serialization.codecFor,
      make: Effect.fnUntraced(function* (address: RunnerAddress.RunnerAddress) {
        const socket = yield* NodeSocket.makeNet({
          openTimeout: 1000,
          timeout: 5500,
          host: address.host,
          port: address.port,
          noDelay: true
        })
        return yield* RpcClient.makeProtocolSocket().pipe(
          Effect.provideService(Socket.Socket, socket),
          Effect.provideService(RpcSerialization.RpcSerialization, serialization)
        )
      }, Effect.orDie)
    }
  })
).pipe(Layer.provide(RpcSerialization.layerSchemaBinary()))

/**
 * Starts a runner process and joins it as a client-only Sharding. A Sharding places entities by the
 * runners its RunnerStorage lists; with SQL storage (production) the runner registers itself there,
 * here this process's in-memory storage is told about it directly.
 */
const connectRunner = async (variant: RunnerVariant) => {
  const runner = await forkServer(clusterRunner, [variant])
  const registerRunner = Layer.effectDiscard(
    Effect.gen(function* () {
      const storage = yield* RunnerStorage.RunnerStorage
      const address = RunnerAddress.make(host, runner.port)
      yield* storage.register(new Runner.Runner({ address, groups: ["default"], weight: 1 }), true)
    })
  )
  const sharding =
    variant === "stock"
      ? NodeClusterSocket.layer({ clientOnly: true, storage: "byo" })
      : SocketRunner.layerClientOnly.pipe(Layer.provide(clientProtocolNagleOff), Layer.provide(ShardingConfig.layer()))
  const runtime = ManagedRuntime.make(
    sharding.pipe(
      Layer.provide(registerRunner),
      Layer.provideMerge(Layer.mergeAll(MessageStorage.layerNoop, RunnerStorage.layerMemory)),
      Layer.provide(quiet)
    )
  )
  const ref = await runtime.runPromise(Cluster.ref(Adder, id))
  const client = (await runtime.runPromise(Cluster.toEntity(Adder).client))(id)
  const plain = (await runtime.runPromise(PlainAdder.client))(id)
  expectEqual(`Cluster.ref add over TCP (${variant})`, await Effect.runPromise(ref.add({ a: 1, b: 2 })), 3)
  expectEqual(`entity client add over TCP (${variant})`, await Effect.runPromise(client.add({ a: 1, b: 2 })), 3)
  expectEqual(`plain entity add over TCP (${variant})`, await Effect.runPromise(plain.add({ a: 1, b: 2 })), 3)
  return { runner, runtime, ref, client, plain }
}
const stock = await connectRunner("stock")
const nagleOff = await connectRunner("nagle-off")

// ------------------------------------------------------------------ Troupe remote: troupe serve

const { served, port: servedPort } = await startTroupeServe(adderHost, { host, secret })
const remoteRuntime = ManagedRuntime.make(Remote.layer({ host, port: servedPort, secret: Redacted.make(secret) }))
const remoteAdder = await remoteRuntime.runPromise(Actor.spawn(Adder, { id: "adder", backend: Remote }))
expectEqual("Troupe remote add", await Effect.runPromise(remoteAdder.add({ a: 1, b: 2 })), 3)

// ------------------------------------------------------------------ in one process: TestRunner

const localRuntime = ManagedRuntime.make(
  Layer.mergeAll(EntitiesLive.pipe(Layer.provideMerge(TestRunner.layer)), AdderLive, ActorSystem.layer()).pipe(
    Layer.provide(quiet)
  )
)
const localRef = await localRuntime.runPromise(Cluster.ref(Adder, id))
const localClient = (await localRuntime.runPromise(Cluster.toEntity(Adder).client))(id)
const localPlain = (await localRuntime.runPromise(PlainAdder.client))(id)
const localActor = await localRuntime.runPromise(Actor.spawn(Adder, { id: "adder" }))
const countingRef = await localRuntime.runPromise(Cluster.ref(CountingAdder, id))
const plainCounting = (await localRuntime.runPromise(PlainCountingAdder.client))(id)
expectEqual("Cluster.ref add on TestRunner", await Effect.runPromise(localRef.add({ a: 1, b: 2 })), 3)

// ------------------------------------------------------------------ measure: over TCP

const tcpSystems: ReadonlyArray<readonly [string, CallDriver]> = [
  [names.ref, effectCalls((a, b) => stock.ref.add({ a, b }))],
  [names.client, effectCalls((a, b) => stock.client.add({ a, b }))],
  [names.plain, effectCalls((a, b) => stock.plain.add({ a, b }))],
  [names.refFast, effectCalls((a, b) => nagleOff.ref.add({ a, b }))],
  [names.clientFast, effectCalls((a, b) => nagleOff.client.add({ a, b }))],
  [names.plainFast, effectCalls((a, b) => nagleOff.plain.add({ a, b }))],
  [names.remote, effectCalls((a, b) => remoteAdder.add({ a, b }))]
]
const wire = await measureWire(tcpSystems, {
  troupe: names.ref,
  peers: [stock.runner.child.pid!, nagleOff.runner.child.pid!, served.pid!],
  pipelinedRounds: 11,
  sequentialRounds: 30,
  idleSamples: 150,
  idlePauseMs: 5
})

// ------------------------------------------------------------------ measure: in one process

const localSystems: ReadonlyArray<readonly [string, CallDriver]> = [
  [names.refLocal, effectCalls((a, b) => localRef.add({ a, b }))],
  [names.clientLocal, effectCalls((a, b) => localClient.add({ a, b }))],
  [names.plainLocal, effectCalls((a, b) => localPlain.add({ a, b }))],
  [names.refCounting, effectCalls((a, b) => countingRef.add({ a, b }))],
  [names.plainCounting, effectCalls((a, b) => plainCounting.add({ a, b }))],
  [names.actorLocal, effectCalls((a, b) => localActor.add({ a, b }))]
]
const ratios = [{ baseline: names.refLocal, invert: true, label: "Troupe ÷ this" }]
await warmUpAll(
  localSystems.flatMap(([, d]) => [d.pipelined, d.sequential]),
  inFlight * 40
)
section(`in one process: pipelined calls (${inFlight} in flight)`)
const localPipelined = await measureInterleaved(
  localSystems.map(([name, d]) => [name, d.pipelined] as const),
  { blockMs: 100, rounds: 11, multipleOf: inFlight, startOps: inFlight * 4 }
)
printTable(
  `in one process (TestRunner): pipelined calls (${inFlight} in flight), median of 11 blocks`,
  localPipelined,
  {
    ratios
  }
)
section("in one process: sequential calls (1 in flight)")
const localSequential = await measureInterleaved(
  localSystems.map(([name, d]) => [name, d.sequential] as const),
  { blockMs: 20, rounds: 30, latency: true }
)
printTable("in one process (TestRunner): sequential calls (1 in flight); p50/p99 over every call", localSequential, {
  ratios
})

// ------------------------------------------------------------------ the adapter's cost (no bars: none were set)

console.log("")
const slower = (rows: ReadonlyArray<Result>, adapter: string, plain: string) =>
  pick(rows, plain).perSec / pick(rows, adapter).perSec
const p50 = (rows: ReadonlyArray<Result>, name: string) => pick(rows, name).p50Us!
const info = (what: string, value: number, detail: string) =>
  console.log(`info: ${what} = ${formatRatio(value)} (${detail})`)
for (const [adapter, plain, label] of [
  [names.ref, names.plain, "Cluster.ref, stock runner"],
  [names.client, names.plain, "entity client, stock runner"],
  [names.refFast, names.plainFast, "Cluster.ref, Nagle off"],
  [names.clientFast, names.plainFast, "entity client, Nagle off"]
] as const) {
  info(
    `TCP, pipelined: plain entity's rate ÷ ${label}'s`,
    slower(wire.pipelined, adapter, plain),
    "above 1: the adapter costs"
  )
  for (const p of wire.sequential) {
    info(
      `TCP, sequential p50 (${p.label}): ${label} ÷ plain entity`,
      p50(p.results, adapter) / p50(p.results, plain),
      `${formatUs(p50(p.results, adapter))} vs ${formatUs(p50(p.results, plain))} µs`
    )
  }
}
for (const [adapter, plain, label] of [
  [names.refLocal, names.plainLocal, "Cluster.ref"],
  [names.clientLocal, names.plainLocal, "entity client"],
  [names.refCounting, names.plainCounting, "Cluster.ref, Ref.modify handler"]
] as const) {
  info(
    `TestRunner, pipelined: plain entity's rate ÷ ${label}'s`,
    slower(localPipelined, adapter, plain),
    "above 1: the adapter costs"
  )
  info(
    `TestRunner, sequential p50: ${label} ÷ plain entity`,
    p50(localSequential, adapter) / p50(localSequential, plain),
    `${formatUs(p50(localSequential, adapter))} vs ${formatUs(p50(localSequential, plain))} µs`
  )
}

// ------------------------------------------------------------------ teardown

await localRuntime.dispose()
await remoteRuntime.dispose()
served.kill("SIGTERM")
await once(served, "exit")
for (const { runtime, runner } of [stock, nagleOff]) {
  await runtime.dispose()
  await stopForked(runner.child)
}
