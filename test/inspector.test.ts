/**
 * The inspector: one sample sees every node (in-process, worker, child, remote session) with its actors'
 * counters, mailbox depth, failures and restarts, channels and topics; the same figures are Metric
 * series; a frozen node shows as unresponsive without holding the sample up; rates decay when idle;
 * the web page serves the view, its events and /metrics, and escapes what it shows.
 */
import { runInNewContext } from "node:vm"
import { assert, describe, expect, it, layer } from "@effect/vitest"
import { request as httpRequest } from "node:http"
import { Cause, Context, Effect, Exit, Fiber, Layer, Metric, Redacted, Schema, Scope, Stream } from "effect"
import { Actor, type ActorError, ActorRef, ActorSystem, Channel, Inspector, Supervision, Topic } from "troupe"
import { InspectorPage } from "troupe/inspector"
import { Remote } from "troupe/node"
import { Gate, GateLive, Worker, WorkerLive } from "./fixtures/spec-actors.ts"
import { child, inProcess, layerForSides, remote, type Side, worker } from "./support/sides.ts"
import { fixture, serve } from "./support/serve.ts"
import { page } from "../src/node/internal/page.ts"
import { Rates } from "../src/internal/rates.ts"
import { reasonOf } from "./spec/behaviour.ts"
import { cbor } from "../src/internal/codec.ts"
import * as F from "../src/internal/wire/frame.ts"
import { Link } from "../src/internal/wire/link.ts"

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
const spawnOn = (
  side: Side,
  options: { readonly supervision?: Supervision.Supervision; readonly idleTimeout?: "100 millis" } = {}
) =>
  Actor.spawn(Worker, { id: `inspected-${side.name}-${++ids}`, backend: side.backend, ...options }) as Effect.Effect<
    ActorRef.ActorRef<typeof Worker>,
    ActorError.ActorError
  >

/** The nodes that answered. */
const up = (view: Inspector.View): ReadonlyArray<Inspector.NodeUp> =>
  view.nodes.filter((n): n is Inspector.NodeUp => n.status === "up")

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
      for (const n of up(view)) expect(n.kinds).toContain("SpecWorker")
      const main = up(view)[0]!
      expect(main.links.length).toBe(3)
      const childNode = up(view).find((n) => n.id === actorIn(view, refs[2]!.id).node)!
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

  it.effect("counts the actors a worker node spawned and passivated, also as Metric series", () =>
    Effect.gen(function* () {
      const before = yield* (yield* Inspector.Inspector).sample
      const ref = yield* spawnOn(worker, { idleTimeout: "100 millis" })
      const node = ActorRef.location(ref)
      const countsOf = (view: Inspector.View) => {
        const n = up(view).find((n) => n.id === node)
        return n === undefined ? [0, 0] : [n.spawned, n.passivated]
      }
      const [spawned0, passivated0] = countsOf(before)
      expect((yield* bounded(Actor.watch(ref), "the passivation"))._tag).toBe("Stopped")
      const view = yield* (yield* Inspector.Inspector).sample
      expect(countsOf(view)).toEqual([spawned0! + 1, passivated0! + 1])
      const series = (yield* Metric.snapshot).find(
        (m) => m.id === "troupe_node_passivated_total" && m.attributes?.["node"] === node
      )
      expect(series?.state).toEqual({ count: passivated0! + 1, incremental: false })
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
      const entry = view.find((r) => r.node === frozen)
      const pid = entry !== undefined && !("error" in entry) ? entry.pid : undefined
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
      expect(node).toEqual({ id: frozen, status: "unresponsive", error: "no report within 300 ms" })
      expect(stopped.actors.some((a) => a.id === ref.id)).toBe(false)
      // this node answered (the others may or may not have, in 300 ms on a busy machine)
      expect(stopped.nodes[0]?.status).toBe("up")
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

  it.effect(
    "looks only as far as asked: hops 0 is this node alone; hops out of range is a defect, not a broken link",
    () =>
      Effect.gen(function* () {
        const ref = yield* spawnOn(worker)
        const alone = yield* Inspector.reports({ hops: 0 })
        expect(alone.length).toBe(1)
        const wrong = yield* Effect.exit(Inspector.reports({ hops: 10 }))
        assert(Exit.isFailure(wrong) && Cause.hasDies(wrong.cause))
        expect(String(Cause.squash(wrong.cause))).toContain("hops must be a whole number from 0 to 9")
        expect(yield* ref.add({ a: 2, b: 3 })).toBe(5)
        expect((yield* Inspector.reports({ hops: 9 })).length).toBe(4)
      })
  )

  it.effect("a second inspector coming and going leaves the first one's Metric series in place", () =>
    Effect.gen(function* () {
      const ref = yield* spawnOn(worker)
      yield* (yield* Inspector.Inspector).sample
      yield* Effect.gen(function* () {
        yield* (yield* Inspector.Inspector).sample
      }).pipe(Effect.provide(Inspector.layer({ interval: "1 hour" })))
      yield* ref.add({ a: 1, b: 1 })
      yield* (yield* Inspector.Inspector).sample
      const series = (yield* Metric.snapshot).filter(
        (m) => m.id === "troupe_actor_messages_total" && m.attributes?.["actor"] === ref.id
      )
      expect(series.map((m) => m.state)).toEqual([{ count: 1, incremental: false }])
    })
  )

  it.effect("counts what the mailbox took, not what it refused", () =>
    Effect.gen(function* () {
      yield* (yield* Inspector.Inspector).sample
      const gate = yield* Actor.spawn(Gate, { id: `gate-${++ids}` })
      const name = `refused-${ids}`
      const ref = yield* Actor.spawn(Worker, { id: `refusing-${ids}`, mailbox: { capacity: 1, overflow: "fail" } })
      const holding = yield* Effect.forkChild(ref.hold({ gate: name, tag: "1" }))
      yield* gate.await({ name: `entered:${name}` })
      const queued = yield* Effect.forkChild(ref.add({ a: 1, b: 1 }))
      yield* sampleUntil((v) => actorIn(v, ref.id).mailbox === 1, "one queued message")
      for (let i = 0; i < 3; i++) {
        expect(reasonOf(yield* Effect.exit(ref.add({ a: 1, b: 1 })))).toBe("MailboxFull")
      }
      yield* gate.open({ name })
      yield* Fiber.join(holding)
      yield* Fiber.join(queued)
      const a = actorIn(yield* (yield* Inspector.Inspector).sample, ref.id)
      expect([a.received, a.handled, a.histogram.buckets.reduce((x, y) => x + y, 0)]).toEqual([2, 2, 2])
    })
  )

  it.effect("closes the page promptly while a browser still follows /api/events", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(InspectorPage.layer({ port: 0 }), scope)
      const { url } = Context.get(context, InspectorPage.InspectorPage)
      const response = yield* Effect.promise(() => fetch(new URL("api/events", url)))
      const reader = response.body!.getReader()
      const first = yield* Effect.promise(() => reader.read())
      expect(new TextDecoder().decode(first.value)).toMatch(/^data: /)
      // the stream ends as the page closes, rather than the server waiting for the client to leave
      // (the server's graceful shutdown would otherwise wait 20 s for the client: the bound is below that)
      yield* Scope.close(scope, Exit.void).pipe(
        Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die("the page waited for its client") })
      )
      const rest = yield* bounded(
        Effect.promise(async () => {
          for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) return "ended"
        }),
        "the event stream to end"
      )
      expect(rest).toBe("ended")
    })
  )

  it.effect("refuses a request addressed to another host name (DNS rebinding)", () =>
    Effect.gen(function* () {
      const { url } = yield* InspectorPage.InspectorPage
      const status = (path: string, hostHeader: string) =>
        Effect.promise(
          () =>
            new Promise<number>((resolve, reject) => {
              const request = httpRequest(new URL(path, url), { headers: { host: hostHeader } }, (response) => {
                response.resume()
                resolve(response.statusCode ?? 0)
              })
              request.on("error", reject)
              request.end()
            })
        )
      for (const path of ["", "api/view", "metrics"]) {
        expect([path, yield* status(path, "evil.example:9400")]).toEqual([path, 421])
        expect([path, yield* status(path, new URL(url).host)]).toEqual([path, 200])
      }
      expect(yield* status("api/view", `LOCALHOST:${new URL(url).port}`)).toBe(200)
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
    omitted: 0,
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
    links: [],
    spawned: 1,
    passivated: 0,
    deadLetters: 0,
    recentDeadLetters: []
  })
  const throughputs = (rates: Rates, samples: ReadonlyArray<readonly [number, number]>) =>
    samples.map(([at, n]) => rates.view([report(at, n)], at, 1000).actors[0]!.throughput)

  it("follows the rate, then halves it every half-life while the actor is idle, down to 0", () => {
    const rates = new Rates(1000)
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

  it("keeps the rate when two samples fall in one millisecond", () => {
    const rates = new Rates(1000)
    const t = throughputs(rates, [
      [0, 0],
      [1000, 1000],
      [1000, 1000],
      [2000, 2000]
    ])
    expect(t[2]).toBeCloseTo(500)
    expect(t[3]).toBeCloseTo(750)
  })

  it("starts again when a node restarted and its counters went back", () => {
    const rates = new Rates(1000)
    expect(
      throughputs(rates, [
        [0, 500],
        [1000, 1500],
        [2000, 10]
      ]).at(-1)
    ).toBe(0)
  })

  it("takes latency percentiles from the interval's share of the histogram", () => {
    const rates = new Rates(1000)
    const bounds = Inspector.latencyBounds
    const one = bounds.indexOf(1)
    rates.view([report(0, 10, { [one]: 10 } as any)], 0, 1000)
    // in the next interval: 98 messages within 1 ms, 2 within 100 ms
    const next: Array<number> = []
    next[one] = 10 + 98
    next[bounds.indexOf(100)] = 2
    const a = rates.view([report(1000, 110, next)], 1000, 1000).actors[0]!
    expect([a.latency?.p50, a.latency?.p99]).toEqual([1, 100])
    const idle = rates.view([report(2000, 110, next)], 2000, 1000).actors[0]!
    expect(idle.latency).toBeUndefined()
  })
})

describe("the page", () => {
  /** The page's script in a DOM stub, with a clock and timers the test moves. */
  const load = () => {
    const elements = new Map<string, { innerHTML: string; textContent: string; className: string; value: string }>()
    const element = (id: string) => {
      let e = elements.get(id)
      if (e === undefined) {
        e = { innerHTML: "", textContent: "", className: "", value: "", addEventListener: () => {} } as any
        elements.set(id, e!)
      }
      return e!
    }
    const sources: Array<{
      onmessage?: (e: { data: string }) => void
      onerror?: () => void
      readyState: number
      closed: boolean
    }> = []
    const clock = { now: 1_000_000 }
    const timers: Array<{ run: () => void; after: number }> = []
    let tick: () => void = () => {}
    const script = page.split("<script>")[1]!.split("</script>")[0]!
    runInNewContext(script, {
      document: { getElementById: element },
      EventSource: class {
        readyState = 1
        closed = false
        constructor() {
          sources.push(this as any)
        }
        close() {
          this.closed = true
          this.readyState = 2
        }
      },
      setInterval: (run: () => void) => void (tick = run),
      setTimeout: (run: () => void, after: number) => void timers.push({ run, after }),
      Map,
      Set,
      Math,
      JSON,
      String,
      Date: class extends Date {
        static override now() {
          return clock.now
        }
      }
    })
    const send = (view: unknown) => sources.at(-1)!.onmessage!({ data: JSON.stringify(view) })
    const advance = (ms: number) => {
      clock.now += ms
      tick()
    }
    return { element, sources, send, advance, timers }
  }

  const node: Inspector.NodeUp = {
    id: "n-1",
    status: "up",
    at: 0,
    pid: 7,
    uptime: 65_000,
    memory: { rss: 1, heapUsed: 2 << 20 },
    kinds: ["Calc"],
    actors: 3,
    omitted: 2,
    links: [{ peer: "n-1/<i>w</i>", status: "open", pending: 4, inbound: 0, unsent: 0, castsWaiting: 2 }],
    spawned: 40,
    passivated: 12,
    deadLetters: 5,
    recentDeadLetters: [
      {
        at: 0,
        kind: "cast",
        target: "<b>printer</b>",
        name: "Printer.print",
        reason: "MailboxFull",
        message: "the mailbox is full",
        from: "n-0"
      }
    ]
  }
  const actor: Inspector.ActorView = {
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
    histogram: { buckets: [], sum: 0, max: 999.7 },
    lastError: "divide: <b>DivideByZero</b>"
  }
  const view: Inspector.View = {
    at: 0,
    interval: 1000,
    nodes: [node, { id: "n-1/worker-1.0", status: "unresponsive", error: "no report" }],
    actors: [actor],
    channels: [],
    topics: [
      { node: "n-1", name: "news", subscribers: 2, neighbours: 1, publications: 5, deliveries: 10, throughput: 3 }
    ]
  }

  it("draws a view and escapes what the system names", () => {
    const { element, sources, send } = load()
    send(view)
    const actors = element("actors").innerHTML
    expect(actors).toContain("&lt;img src=x onerror=alert(1)&gt;")
    expect(actors).not.toContain("<img")
    expect(actors).toContain("&lt;b&gt;DivideByZero&lt;/b&gt;")
    expect(actors).toContain("1.2k")
    expect(actors).toContain("50µs")
    // the slowest message so far, rounded to the unit that reads best
    expect(actors).toContain("1.0s")
    expect(actors).toContain('3<span class="cap">/4</span>')
    const nodes = element("nodes").innerHTML
    expect(nodes).toContain("no report")
    expect(nodes).toContain("unresponsive")
    expect(nodes).toContain("&lt;i&gt;w&lt;/i&gt;")
    expect(nodes).not.toContain("<i>")
    expect(nodes).toContain("4 awaiting reply")
    expect(nodes).toContain("2 casts waiting for credit")
    expect(nodes).toContain("5 dead letters")
    expect(nodes).toContain("40 spawned · 12 passivated (idle)")
    expect(nodes).toContain("MailboxFull: cast Printer.print to &lt;b&gt;printer&lt;/b&gt; from n-0")
    expect(element("topics").innerHTML).toContain("news")
    expect(element("channels").innerHTML).toContain("no channels open")
    expect(element("summary").textContent).toContain("2 nodes (1 unresponsive) · 1 actor ·")
    expect(nodes).toContain("3 actors (2 not listed)")
    expect(element("status").textContent).toBe("live")
    // a figure that is not a number (JSON turns NaN into null) shows as a dash; the page keeps drawing
    const odd = { ...view, actors: [{ ...actor, throughput: null, latency: { p50: null, p99: "x" } }] }
    send(odd)
    expect(element("status").textContent).toBe("live")
    expect(element("actors").innerHTML).toContain("—")
    // a sample that is not JSON is reported until a good one comes
    sources[0]!.onmessage!({ data: "{ not json" })
    expect(element("status").textContent).toBe("unreadable sample")
    send(view)
    expect(element("status").textContent).toBe("live")
  })

  it("says when a node went unresponsive and that its actors are missing, not gone", () => {
    const { element, send } = load()
    const worker: Inspector.NodeUp = { ...node, id: "n-1/worker-1.0", actors: 2, omitted: 0 }
    send({ ...view, nodes: [node, worker] })
    send({
      ...view,
      at: 1000,
      nodes: [node, { id: worker.id, status: "unresponsive", error: "no report within 2000 ms" }]
    })
    const nodes = element("nodes").innerHTML
    expect(nodes).toContain("no report within 2000 ms")
    expect(nodes).toContain("its 2 actors are not in this sample")
  })

  it("draws at most 500 actors, and says how many more there are", () => {
    const { element, send } = load()
    const actors = Array.from({ length: 600 }, (_, i) => ({ ...actor, id: `a-${i}`, throughput: i }))
    send({ ...view, actors })
    expect(element("actors").innerHTML.split("<tr>").length - 2).toBe(500)
    // the busiest first
    expect(element("actors").innerHTML).toContain("a-599")
    expect(element("actors").innerHTML).not.toContain("a-99<")
    expect(element("actors-note").textContent).toContain("showing the first 500 of 600")
  })

  it("marks a stream that went quiet as stale and connects again; retries after an HTTP error", () => {
    const { element, sources, send, advance, timers } = load()
    send(view)
    advance(1000)
    expect([element("status").textContent, element("main").className]).toEqual(["live", ""])
    // no sample for longer than a few intervals: a proxy may hold a stream open after the program went away
    advance(6000)
    expect(element("status").textContent).toContain("no new sample since")
    expect(element("main").className).toBe("stale")
    expect(sources.length).toBe(2)
    expect(sources[0]!.closed).toBe(true)
    // the same sample again is not news
    send(view)
    expect(element("main").className).toBe("stale")
    send({ ...view, at: 7000 })
    expect([element("status").textContent, element("main").className]).toEqual(["live", ""])
    // an HTTP error (a proxy's 502) closes an EventSource for good: the page tries again, backing off
    sources[1]!.readyState = 2
    sources[1]!.onerror!()
    expect(element("status").textContent).toContain("disconnected since")
    expect(timers.map((t) => t.after)).toEqual([1000])
    timers[0]!.run()
    expect(sources.length).toBe(3)
    sources[2]!.readyState = 2
    sources[2]!.onerror!()
    expect(timers.map((t) => t.after)).toEqual([1000, 2000])
    timers[1]!.run()
    send({ ...view, at: 9000 })
    expect(element("status").textContent).toBe("live")
  })
})

describe("INSPECT between nodes", () => {
  /** One turn of the event loop: frames written in the last tick have gone out. */
  const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

  /** A node (a system of its own) whose links lead to peers that the test plays. */
  const hub = Effect.gen(function* () {
    const system = ActorSystem.makeUnsafe({ nodeId: "hub" })
    const context = yield* Effect.context<never>()
    const peer = (id: string, options: { readonly inspectable?: boolean } = {}) => {
      const frames: Array<Array<any>> = []
      const link = new Link(
        { write: (b) => void frames.push(...(cbor.decode(b) as Array<Array<any>>)), close: () => {} },
        { peerLabel: id, host: { system, behaviours: new Map(), context }, ...options }
      )
      link.start()
      link.receive(cbor.encode([[F.HELLO, F.MAGIC, F.VERSION, id, []]]))
      const say = (...frame: Array<unknown>) => link.receive(cbor.encode([frame]))
      /** The first frame of a type the hub sent this peer (waits, bounded). */
      const next = (type: number, seen = 0) =>
        bounded(
          Effect.gen(function* () {
            while (frames.filter((f) => f[0] === type).length <= seen) yield* turn
            return frames.filter((f) => f[0] === type)[seen]!
          }),
          `frame ${F.names[type]}`
        )
      return { link, say, next }
    }
    return { system, peer }
  })

  it.live("a peer that did not start this node, or own its session, may not inspect it", () =>
    Effect.gen(function* () {
      const { peer } = yield* hub
      const server = peer("server") // as a Remote client's link to its server
      server.say(F.INSPECT, 1, 4, 1000)
      const reply = yield* server.next(F.REPLY)
      expect(reply.slice(0, 3)).toEqual([F.REPLY, 1, F.ACTOR_ERROR])
      expect(reply[3].reason._tag).toBe("Unauthorized")
      expect(server.link.status).toBe("open")
    })
  )

  it.live("answers for itself and the nodes behind it; one that does not answer in time is named, not waited for", () =>
    Effect.gen(function* () {
      const { peer, system } = yield* hub
      const parent = peer("parent", { inspectable: true })
      const silent = peer("hub/silent")
      const helpful = peer("hub/helpful")
      parent.say(F.INSPECT, 1, 3, 400)
      // passed on with one hop less and a shorter wait, so that each hop answers before the one before
      const forwarded = yield* helpful.next(F.INSPECT)
      expect(forwarded[2]).toBe(2)
      expect(forwarded[3]).toBeLessThan(400)
      expect((yield* silent.next(F.INSPECT))[2]).toBe(2)
      // questions asked while the first is answered share its answer, up to four; a fifth is refused
      for (const id of [2, 3, 4, 5]) parent.say(F.INSPECT, id, 3, 400)
      const refused = yield* parent.next(F.REPLY)
      expect([refused[1], refused[2], refused[3].reason._tag]).toEqual([5, F.ACTOR_ERROR, "Unreachable"])
      // the helpful peer answers with a report of its own, and a second copy of the hub's: kept once
      const own = (yield* Inspector.reports({ hops: 0 }).pipe(
        Effect.provideService(ActorSystem.ActorSystem, ActorSystem.makeUnsafe({ nodeId: "hub/helpful" }))
      ))[0]!
      helpful.say(F.REPLY, forwarded[1], F.OK, [own, { ...own, node: "hub" }])
      const replies = [yield* parent.next(F.REPLY, 1), yield* parent.next(F.REPLY, 2)]
      replies.push(yield* parent.next(F.REPLY, 3), yield* parent.next(F.REPLY, 4))
      expect(replies.map((r) => r.slice(0, 3))).toEqual([1, 2, 3, 4].map((id) => [F.REPLY, id, F.OK]))
      for (const reply of replies) {
        expect(reply[3].map((r: { node: string; error?: string }) => [r.node, r.error])).toEqual([
          ["hub", undefined],
          ["hub/silent", "no report within 400 ms"],
          ["hub/helpful", undefined]
        ])
      }
      // asked itself, the hub looks at the nodes behind it, not at the parent that inspects it
      const mine = yield* Inspector.reports({ hops: 1, timeout: "100 millis" }).pipe(
        Effect.provideService(ActorSystem.ActorSystem, system)
      )
      expect(mine.map((r) => r.node)).toEqual(["hub", "hub/silent", "hub/helpful"])
    })
  )

  it.live("a control REPLY that breaks the protocol fails its request at once, as it closes the link", () =>
    Effect.gen(function* () {
      const { peer } = yield* hub
      const worker = peer("hub/w")
      const asked = yield* Effect.forkChild(
        worker.link.control((id) => [F.LOOKUP, id, "SpecWorker", "x"]),
        { startImmediately: true }
      )
      const question = yield* worker.next(F.LOOKUP)
      worker.say(F.REPLY, question[1], F.OK, "not an incarnation")
      expect(reasonOf(yield* Fiber.await(asked))).toBe("ProtocolError")
      expect(worker.link.status).toBe("closed")
    })
  )

  it.live("a malformed or poisoned report closes that link and fails the inspection at once", () =>
    Effect.gen(function* () {
      const { peer } = yield* hub
      const good = (yield* Inspector.reports({ hops: 0 }))[0]!
      for (const bad of [[{ node: "x", bogus: true }], [{ ...good, at: Number.NaN }], [{ ...good, uptime: -1 }]]) {
        const worker = peer(`hub/w${Math.random()}`)
        const asked = yield* Effect.forkChild(worker.link.inspect(0, 30_000), { startImmediately: true })
        const question = yield* worker.next(F.INSPECT)
        worker.say(F.REPLY, question[1], F.OK, bad)
        const exit = yield* Fiber.await(asked)
        expect(reasonOf(exit)).toBe("ProtocolError")
        expect(worker.link.status).toBe("closed")
      }
    })
  )
})

describe("Metric series per protocol", () => {
  const program = (metrics: "protocol" | "none") =>
    Effect.gen(function* () {
      const inspector = yield* Inspector.Inspector
      const refs = yield* Effect.forEach([1, 2, 3], (i) => Actor.spawn(Worker, { id: `grouped-${i}` }))
      yield* inspector.sample
      for (const ref of refs) for (let i = 0; i < 2; i++) yield* ref.add({ a: i, b: 1 })
      yield* inspector.sample
      const counts = Effect.map(Metric.snapshot, (snapshot) =>
        snapshot
          .filter((m) => m.id === "troupe_actor_messages_total")
          .map((m) => [m.attributes?.["protocol"], m.attributes?.["actor"], (m.state as { count: number }).count])
      )
      const before = yield* counts
      yield* Actor.stop(refs[0]!)
      yield* inspector.sample
      const after = yield* counts
      const nodes = (yield* Metric.snapshot).filter((m) => m.id === "troupe_node_actors").length
      return { before, after, nodes }
    }).pipe(
      Effect.provide(
        Inspector.layer({ interval: "1 hour", metrics }).pipe(
          Layer.provideMerge(Layer.mergeAll(WorkerLive, ActorSystem.layer()))
        )
      ),
      // a registry of its own: the other tests' series are not this one's business
      Effect.provideService(Metric.MetricRegistry, new Map())
    )

  it.live("sums a protocol's actors on a node, and keeps a stopped actor's counts in the sum", () =>
    Effect.gen(function* () {
      const { before, after, nodes } = yield* program("protocol")
      expect(before).toEqual([["SpecWorker", undefined, 6]])
      expect(after).toEqual([["SpecWorker", undefined, 6]])
      expect(nodes).toBe(1)
    })
  )

  it.live("or has no actor series at all", () =>
    Effect.gen(function* () {
      const { before, nodes } = yield* program("none")
      expect(before).toEqual([])
      expect(nodes).toBe(1)
    })
  )
})

describe("troupe serve --inspect-port", () => {
  it.live("shows every client session of the server as a node, with its actors", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--inspect-port", "0"], fixture("spec-host.ts"), { TROUPE_SECRET: "inspect" })
      const url = /inspector at (\S+)/.exec(served.output())?.[1]
      assert(url !== undefined, served.output())
      const client = (id: string) =>
        Effect.gen(function* () {
          const context = yield* Layer.build(
            Remote.layer({ host: "127.0.0.1", port: served.port, secret: Redacted.make("inspect") })
          )
          const ref = yield* Effect.provide(Actor.spawn(Worker, { id, backend: Remote }), context)
          yield* ref.add({ a: 1, b: 2 })
        })
      yield* client("alice-actor")
      yield* client("bob-actor")
      const view = yield* bounded(
        Effect.gen(function* () {
          while (true) {
            const view = yield* Effect.promise(
              () => fetch(new URL("api/view", url)).then((r) => r.json()) as Promise<Inspector.View>
            )
            if (view.actors.length === 2) return view
            yield* Effect.sleep("50 millis")
          }
        }),
        "the server's inspector to see both sessions"
      )
      // two sessions, two nodes, one actor each
      expect(view.nodes.map((n) => n.status)).toEqual(["up", "up"])
      expect(view.actors.map((a) => a.id).sort()).toEqual(["alice-actor", "bob-actor"])
      expect(new Set(view.actors.map((a) => a.node)).size).toBe(2)
    })
  )
})
