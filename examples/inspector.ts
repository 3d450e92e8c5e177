/**
 * The inspector: a kitchen of stations in-process, in a worker thread and in a child process takes
 * orders, and the inspector shows every node, every station's mailbox, throughput, latency and errors,
 * and the "served" topic, on a live web page (and as Metrics, at /metrics).
 * Run: npx tsx examples/inspector.ts            (checks a few samples and exits)
 *      npx tsx examples/inspector.ts --serve    (keeps cooking; open the printed address)
 */
import { Effect, Layer, Schedule, Stream } from "effect"
import { Actor, type ActorRef, Inspector, Topic } from "troupe"
import { InspectorPage } from "troupe/inspector"
import { Subprocess, Workers } from "troupe/node"
import { Served, Station, StationLive } from "./hosts/kitchen.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/kitchen.ts", import.meta.url)
const serve = process.argv.includes("--serve")
const dishes = ["soup", "salad", "risotto", "soup", "souffle", "pizza"]

/** One round of orders: each station gets every dish (the pizza is off the menu). */
const orders = (stations: ReadonlyArray<ActorRef.ActorRef<typeof Station>>) =>
  Effect.forEach(stations, (station) => Effect.forEach(dishes, (dish) => Effect.exit(station.cook({ dish }))), {
    concurrency: "unbounded",
    discard: true
  })

const program = Effect.gen(function* () {
  const stations = [
    yield* Actor.spawn(Station, { id: "grill" }),
    yield* Actor.spawn(Station, { id: "pastry", backend: Workers }),
    yield* Actor.spawn(Station, { id: "salads", backend: Subprocess })
  ]
  const served = yield* Topic.subscribe(Served, { capacity: 1024, strategy: "sliding" })
  yield* served.pipe(Stream.runDrain, Effect.forkScoped)
  const inspector = yield* Inspector.Inspector
  const { url } = yield* InspectorPage.InspectorPage
  console.log(`inspector: ${url}`)

  if (serve) {
    console.log("cooking until Ctrl-C...")
    return yield* orders(stations).pipe(Effect.repeat(Schedule.spaced("20 millis")), Effect.asVoid)
  }

  yield* inspector.sample // the first look starts the counting on every node
  for (let i = 0; i < 10; i++) yield* orders(stations)
  const view = yield* inspector.sample
  for (const n of view.nodes) {
    console.log(`  node ${n.id}: ${n.status === "up" ? `${n.actors} actors, kinds ${n.kinds.join(", ")}` : n.error}`)
  }
  for (const a of view.actors) {
    console.log(
      `  ${a.id.padEnd(7)} on ${a.node}: handled ${a.handled}, errors ${a.failures}, ` +
        `p50 ${a.latency?.p50} ms, p99 ${a.latency?.p99} ms, last error ${a.lastError}`
    )
  }
  yield* check(
    "three nodes answered",
    view.nodes.map((n) => n.status),
    ["up", "up", "up"]
  )
  yield* check(
    "every station handled 60 orders, 10 of them off the menu",
    view.actors.map((a) => [a.id, a.handled, a.failures]).sort(),
    [
      ["grill", 60, 10],
      ["pastry", 60, 10],
      ["salads", 60, 10]
    ]
  )
  yield* check(
    "the typed error is named",
    view.actors.map((a) => a.lastError),
    Array(3).fill("cook: OffTheMenu")
  )
  const topic = view.topics.find((t) => t.name === "served")
  yield* check("the main node's subscriber got every dish served", topic?.deliveries, 3 * 10 * 5)
  const page = yield* Effect.promise(() => fetch(new URL("api/view", url)).then((r) => r.json()))
  yield* check("the page serves the same view", (page as Inspector.View).at, view.at)
  const metrics = yield* Effect.promise(() => fetch(new URL("metrics", url)).then((r) => r.text()))
  yield* check(
    "and the Metrics (Prometheus text)",
    metrics.includes(`troupe_actor_messages_total{node="${view.nodes[0]?.id}",actor="grill",protocol="Station"} 60`),
    true
  )
})

const Inspect = InspectorPage.layer({ port: serve ? 9400 : 0 }).pipe(Layer.provideMerge(Inspector.layer()))

run(
  program.pipe(
    Effect.scoped,
    Effect.provide(Layer.mergeAll(StationLive, Workers.layer({ host }), Subprocess.layer({ host }), Inspect))
  )
)
