/**
 * The inspector: one sample sees every node (in-process, worker, child, remote session) with its actors'
 * counters, mailbox depth, failures and restarts, channels and topics; the same figures are Metric
 * series; a frozen node shows as unresponsive without holding the sample up; rates decay when idle;
 * the web page serves the view, its events and /metrics, and escapes what it shows.
 */
import { runInNewContext } from "node:vm"
import { assert, describe, expect, it, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric, Schema, Stream } from "effect"
import { Actor, type ActorError, type ActorRef, Channel, Inspector, Supervision, Topic } from "troupe"
import { InspectorPage } from "troupe/inspector"
import { Gate, GateLive, Worker, WorkerLive } from "./fixtures/spec-actors.ts"
import { child, inProcess, layerForSides, remote, type Side, worker } from "./support/sides.ts"
import { page } from "../src/node/internal/page.ts"

const host = new URL("./fixtures/spec-host.ts", import.meta.url)
const sides = [inProcess, worker, child, remote]

const bounded = <A, E, R>(self: Effect.Effect<A, E, R>, what: string) =>
  self.pipe(
    Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die(`the wait for ${what} timed out`) })
  )

/** Samples (bounded) until `ok` holds: for state that changes on another node. */
const sampleUntil = (ok: (view: Inspector.View) => boolean, what: string) =>
  bounded(
    Effect.gen(function* () {
      const inspector = yield* Inspector.Inspector
      while (true) {
        const view = yield* inspector.sample
        if (ok(view)) return view
        yield* Effect.sleep("10 millis")
      }
    }),
    what
  )

let ids = 0
const spawnOn = (side: Side, options: { readonly supervision?: Supervision.Supervision } = {}) =>
  Actor.spawn(Worker, { id: `inspected-${side.name}-${++ids}`, backend: side.backend, ...options }) as Effect.Effect<
    ActorRef.ActorRef<typeof Worker>,
    ActorError.ActorError
  >

const actorIn = (view: Inspector.View, id: string) => {
  const found = view.actors.find((a) => a.id === id)
  assert(found !== undefined, `${id} is not in the view`)
  return found
}

const TestLayer = Inspector.layer({ interval: "1 hour", timeout: "5 seconds" }).pipe(
  Layer.provideMerge(
    layerForSides({ host, behaviours: Layer.mergeAll(WorkerLive, GateLive), secret: "inspect", sides })
  )
)

layer(TestLayer, { excludeTestServices: true, timeout: 60_000 })("a sample of the whole system", (it) => {
  it.effect("sees every node and its actors' counters, failures and kinds", () =>
    Effect.gen(function* () {
      const inspector = yield* Inspector.Inspector
      const refs = yield* Effect.forEach(sides, (side) => spawnOn(side))
      // the first look turns metering on everywhere; counting starts there
      yield* inspector.sample
      yield* Effect.forEach(refs, (ref) =>
        Effect.gen(function* () {
          for (let i = 0; i < 10; i++) expect(yield* ref.add({ a: i, b: 1 })).toBe(i + 1)
          expect(Exit.isFailure(yield* Effect.exit(ref.divide({ a: 1, b: 0 })))).toBe(true)
          expect(Exit.isFailure(yield* Effect.exit(ref.crash({ message: "boom" })))).toBe(true)
        })
      )
      const view = yield* inspector.sample
      expect(view.nodes.length).toBe(4)
      expect(view.nodes.every((n) => n.status === "up")).toBe(true)
      const nodes = new Set<string>()
      for (const ref of refs) {
        const a = actorIn(view, ref.id)
        expect([a.protocol, a.state, a.received, a.handled, a.failures, a.defects, a.mailbox]).toEqual([
          "SpecWorker",
          "active",
          12,
          12,
          2,
          1,
          0
        ])
        expect(a.lastError).toContain("RangeError: boom")
        expect(a.histogram.buckets.reduce((x, y) => x + y, 0)).toBe(12)
        expect(a.latency?.p99).toBeGreaterThan(0)
        nodes.add(a.node)
      }
      // four actors on four different nodes, each node naming what it can spawn
      expect(nodes.size).toBe(4)
      for (const n of view.nodes) expect(n.kinds).toContain("SpecWorker")
      const main = view.nodes[0]!
      expect(main.links.length).toBe(3)
      const childNode = view.nodes.find((n) => n.id === actorIn(view, refs[2]!.id).node)!
      expect(childNode.pid).not.toBe(main.pid)
    })
  )

  it.effect("shows a backed-up mailbox on a worker, then its drain", () =>
    Effect.gen(function* () {
      const ref = yield* spawnOn(worker)
      const gate = yield* Actor.spawn(Gate, { id: `gate-${++ids}`, backend: worker.backend })
      const fibers = yield* Effect.forEach([1, 2, 3, 4, 5], (i) =>
        Effect.forkChild(ref.hold({ gate: `inspect-${ids}`, tag: `t${i}` }))
      )
      const stuck = yield* sampleUntil((v) => actorIn(v, ref.id).mailbox === 4, "four queued messages")
      expect(actorIn(stuck, ref.id).handled).toBe(0)
      yield* gate.open({ name: `inspect-${ids}` })
      yield* Effect.forEach(fibers, Fiber.join)
      const drained = yield* (yield* Inspector.Inspector).sample
      expect([actorIn(drained, ref.id).mailbox, actorIn(drained, ref.id).handled]).toEqual([0, 5])
    })
  )

  it.effect("counts restarts by supervision on a child node", () =>
    Effect.gen(function* () {
      yield* (yield* Inspector.Inspector).sample
      const ref = yield* spawnOn(child, {
        supervision: Supervision.restart({ maxRestarts: 5, backoff: { initial: "1 millis", jitter: false } })
      })
      yield* Effect.exit(ref.crash({ message: "again" }))
      // calls queue while it restarts, and are handled by the fresh behaviour
      expect(yield* ref.add({ a: 1, b: 2 })).toBe(3)
      const view = yield* (yield* Inspector.Inspector).sample
      const a = actorIn(view, ref.id)
      expect([a.restarts, a.defects, a.handled]).toEqual([1, 1, 2])
    })
  )

  it.effect("reports channels and topics on the nodes that hold them", () =>
    Effect.gen(function* () {
      const Jobs = Channel.make("inspect-jobs", Schema.Number)
      const News = Topic.make("inspect-news", Schema.String)
      const inbox = yield* Channel.open(Jobs, { capacity: 16 })
      const news = yield* Topic.subscribe(News)
      for (let i = 0; i < 3; i++) yield* Channel.send(inbox.endpoint, i)
      yield* inbox.receive()
      yield* Topic.publish(News, "hello")
      yield* news.pipe(Stream.take(1), Stream.runDrain)
      const view = yield* (yield* Inspector.Inspector).sample
      const channel = view.channels.find((c) => c.name === "inspect-jobs")
      expect([channel?.queued, channel?.received, channel?.capacity]).toEqual([2, 1, 16])
      const topic = view.topics.find((t) => t.name === "inspect-news")
      expect([topic?.subscribers, topic?.publications, topic?.deliveries]).toEqual([1, 1, 1])
    }).pipe(Effect.scoped)
  )

  it.effect("registers every figure as a Metric series, and drops the series of a stopped actor", () =>
    Effect.gen(function* () {
      const ref = yield* spawnOn(worker)
      yield* (yield* Inspector.Inspector).sample
      for (let i = 0; i < 7; i++) yield* ref.add({ a: i, b: i })
      yield* (yield* Inspector.Inspector).sample
      const seriesOf = (snapshot: ReadonlyArray<Metric.Metric.Snapshot>, id: string) =>
        snapshot.filter((s) => s.attributes?.["actor"] === ref.id && s.id === id)
      const before = yield* Metric.snapshot
      const handled = seriesOf(before, "troupe_actor_messages_total")
      expect(handled.map((s) => s.state)).toEqual([{ count: 7, incremental: false }])
      const latency = seriesOf(before, "troupe_actor_latency_ms")[0]?.state as Metric.HistogramState
      expect(latency.count).toBe(7)
      expect(seriesOf(before, "troupe_actor_mailbox_depth").map((s) => s.state)).toEqual([{ value: 0 }])
      yield* Actor.stop(ref)
      yield* (yield* Inspector.Inspector).sample
      expect(seriesOf(yield* Metric.snapshot, "troupe_actor_messages_total")).toEqual([])
    })
  )

  it.effect("shows a frozen child as unresponsive without holding the sample up, and up again when it thaws", () =>
    Effect.gen(function* () {
      const ref = yield* spawnOn(child)
      const frozen = actorIn(yield* (yield* Inspector.Inspector).sample, ref.id).node
      const view = yield* Inspector.reports({ timeout: "5 seconds" })
      const pid = view.find((r) => r.node === frozen)?.pid
      assert(typeof pid === "number")
      process.kill(pid, "SIGSTOP")
      // a second inspector, impatient
      const stopped = yield* Effect.gen(function* () {
        return yield* (yield* Inspector.Inspector).sample
      }).pipe(
        Effect.provide(Inspector.layer({ interval: "1 hour", timeout: "300 millis" })),
        Effect.ensuring(Effect.sync(() => process.kill(pid, "SIGCONT")))
      )
      const node = stopped.nodes.find((n) => n.id === frozen)
      expect([node?.status, node?.error]).toEqual(["unresponsive", "no report within 300ms"])
      expect(stopped.actors.some((a) => a.id === ref.id)).toBe(false)
      // the others answered
      expect(stopped.nodes.filter((n) => n.status === "up").length).toBe(3)
      const thawed = yield* sampleUntil((v) => v.actors.some((a) => a.id === ref.id), "the child to answer again")
      expect(thawed.nodes.every((n) => n.status === "up")).toBe(true)
    })
  )

  it.effect("serves the page, the view, one event per sample and /metrics", () =>
    Effect.gen(function* () {
      const ref = yield* spawnOn(worker)
      yield* (yield* Inspector.Inspector).sample
      yield* ref.add({ a: 1, b: 1 })
      yield* (yield* Inspector.Inspector).sample
      const { url } = yield* InspectorPage.InspectorPage
      const get = (path: string) =>
        Effect.promise(() =>
          fetch(new URL(path, url)).then(async (r) => ({ type: r.headers.get("content-type"), body: await r.text() }))
        )
      const html = yield* get("/")
      expect(html.type).toContain("text/html")
      expect(html.body).toContain("Troupe inspector")
      const view = JSON.parse((yield* get("/api/view")).body) as Inspector.View
      expect(view.actors.find((a) => a.id === ref.id)?.handled).toBe(1)
      const metrics = (yield* get("/metrics")).body
      expect(metrics).toContain(`troupe_actor_messages_total{node="${actorIn(view, ref.id).node}",actor="${ref.id}"`)
      // the event stream starts with the latest view
      const first = yield* Effect.promise(async () => {
        const controller = new AbortController()
        const response = await fetch(new URL("/api/events", url), { signal: controller.signal })
        const reader = response.body!.getReader()
        let text = ""
        while (!text.includes("\n\n")) text += new TextDecoder().decode((await reader.read()).value)
        controller.abort()
        return { type: response.headers.get("content-type"), text }
      })
      expect(first.type).toContain("text/event-stream")
      expect((JSON.parse(first.text.slice("data: ".length, first.text.indexOf("\n\n"))) as Inspector.View).at).toBe(
        view.at
      )
    }).pipe(Effect.provide(InspectorPage.layer({ port: 0 })))
  )
})

describe("rates", () => {
  const report = (at: number, handled: number, buckets: ReadonlyArray<number> = []): Inspector.NodeReport => ({
    node: "n",
    at,
    uptime: at,
    pid: 1,
    memory: null,
    kinds: [],
    actors: [
      {
        id: "a",
        protocol: "P",
        incarnation: 1,
        state: "active",
        mailbox: 0,
        capacity: 8,
        received: handled,
        handled,
        failures: 0,
        defects: 0,
        restarts: 0,
        latency: {
          buckets: Inspector.latencyBounds.map((_, i) => buckets[i] ?? 0).concat([0]),
          sum: 0,
          max: 3
        },
        lastError: null
      }
    ],
    channels: [],
    topics: [],
    links: []
  })
  const throughputs = (rates: Inspector.Rates, samples: ReadonlyArray<readonly [number, number]>) =>
    samples.map(([at, n]) => rates.view([Inspector.gathered(report(at, n))], at, 1000).actors[0]!.throughput)

  it("follows the rate, then halves it every half-life while the actor is idle, down to 0", () => {
    const rates = Inspector.makeRates("1 second")
    const t = throughputs(rates, [
      [0, 0],
      [1000, 1000],
      [2000, 2000],
      [3000, 2000],
      [4000, 2000]
    ])
    expect(t[0]).toBe(0)
    expect(t[1]).toBeCloseTo(500)
    expect(t[2]).toBeCloseTo(750)
    expect(t[3]).toBeCloseTo(375)
    expect(t[4]).toBeCloseTo(187.5)
    const idle = throughputs(
      rates,
      Array.from({ length: 30 }, (_, i) => [5000 + i * 1000, 2000] as const)
    )
    expect(idle.at(-1)).toBe(0)
  })

  it("starts again when a node restarted and its counters went back", () => {
    const rates = Inspector.makeRates("1 second")
    expect(
      throughputs(rates, [
        [0, 500],
        [1000, 1500],
        [2000, 10]
      ]).at(-1)
    ).toBe(0)
  })

  it("takes latency percentiles from the interval's share of the histogram", () => {
    const rates = Inspector.makeRates("1 second")
    const bounds = Inspector.latencyBounds
    const one = bounds.indexOf(1)
    rates.view([Inspector.gathered(report(0, 10, { [one]: 10 } as any))], 0, 1000)
    // in the next interval: 98 messages within 1 ms, 2 within 100 ms
    const next: Array<number> = []
    next[one] = 10 + 98
    next[bounds.indexOf(100)] = 2
    const a = rates.view([Inspector.gathered(report(1000, 110, next))], 1000, 1000).actors[0]!
    expect([a.latency?.p50, a.latency?.p99]).toEqual([1, 100])
    const idle = rates.view([Inspector.gathered(report(2000, 110, next))], 2000, 1000).actors[0]!
    expect(idle.latency).toBeUndefined()
  })
})

describe("the page", () => {
  it("draws a view and escapes what the system names", () => {
    const elements = new Map<string, { innerHTML: string; textContent: string; className: string; value: string }>()
    const element = (id: string) => {
      let e = elements.get(id)
      if (e === undefined) {
        e = { innerHTML: "", textContent: "", className: "", value: "", addEventListener: () => {} } as any
        elements.set(id, e!)
      }
      return e!
    }
    const sources: Array<{ onmessage?: (e: { data: string }) => void }> = []
    const script = page.split("<script>")[1]!.split("</script>")[0]!
    runInNewContext(script, {
      document: { getElementById: element },
      EventSource: class {
        constructor() {
          sources.push(this as any)
        }
      },
      Map,
      Set,
      Math,
      JSON,
      String,
      Date
    })
    const view: Inspector.View = {
      at: 0,
      interval: 1000,
      nodes: [
        {
          id: "n-1",
          status: "up",
          error: undefined,
          pid: 7,
          uptime: 65_000,
          memory: { rss: 1, heapUsed: 2 << 20 },
          kinds: ["Calc"],
          actors: 1,
          links: []
        },
        {
          id: "n-1/worker-1.0",
          status: "unresponsive",
          error: "no report",
          pid: null,
          uptime: 0,
          memory: null,
          kinds: [],
          actors: 0,
          links: []
        }
      ],
      actors: [
        {
          node: "n-1",
          id: "<img src=x onerror=alert(1)>",
          protocol: "Calc",
          incarnation: 1,
          state: "active",
          mailbox: 3,
          capacity: 4,
          received: 10,
          handled: 7,
          failures: 1,
          defects: 0,
          restarts: 0,
          throughput: 1234.5,
          latency: { p50: 0.05, p99: 2.5, mean: 0.1, max: 3 },
          histogram: { buckets: [], sum: 0, max: 3 },
          lastError: "divide: <b>DivideByZero</b>"
        }
      ],
      channels: [],
      topics: [
        { node: "n-1", name: "news", subscribers: 2, neighbours: 1, publications: 5, deliveries: 10, throughput: 3 }
      ]
    }
    sources[0]!.onmessage!({ data: JSON.stringify(view) })
    const actors = element("actors").innerHTML
    expect(actors).toContain("&lt;img src=x onerror=alert(1)&gt;")
    expect(actors).not.toContain("<img")
    expect(actors).toContain("&lt;b&gt;DivideByZero&lt;/b&gt;")
    expect(actors).toContain("1.2k")
    expect(actors).toContain("50µs")
    expect(element("nodes").innerHTML).toContain("unresponsive: no report")
    expect(element("topics").innerHTML).toContain("news")
    expect(element("channels").innerHTML).toContain("none")
    expect(element("summary").textContent).toContain("2 nodes · 1 actors")
  })
})
