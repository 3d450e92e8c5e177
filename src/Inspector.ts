/**
 * Inspector: a live view of the whole system (every node this one reaches, their actors, mailboxes,
 * throughput, latency, failures and restarts, channels and topics), sampled at an interval. Each figure
 * is also an Effect Metric series, so an OpenTelemetry exporter reports what the page shows. The page
 * itself is served by `InspectorPage` in `troupe/node`; this module is platform-neutral.
 */
import { Context, Duration, Effect, Layer, Metric, Schedule, Semaphore, Stream, SubscriptionRef } from "effect"
import { ActorSystem } from "./ActorSystem.ts"
import * as Behaviour from "./Behaviour.ts"
import { latencyBounds } from "./internal/meter.ts"
import type { ActorReport, LinkReport, NodeReport } from "./internal/report.ts"
import { reportOf } from "./internal/report.ts"

export { ActorReport, ChannelReport, LinkReport, NodeReport, TopicReport } from "./internal/report.ts"
export { latencyBounds } from "./internal/meter.ts"

/** Latency over the last interval, in milliseconds (bucket upper bounds, so p50/p99 round up). */
export interface Latency {
  readonly p50: number
  readonly p99: number
  readonly mean: number
  /** The slowest message since the actor was first inspected. */
  readonly max: number
}

/** One actor as the inspector shows it: the counters of its report, plus rates. */
export interface ActorView extends Omit<ActorReport, "latency"> {
  readonly node: string
  /** Messages handled per second: a moving average that decays towards 0 while the actor is idle. */
  readonly throughput: number
  /** Over the last interval; undefined when no message was handled in it. */
  readonly latency: Latency | undefined
  /** Every latency since the actor was first inspected: counts per bucket of `latencyBounds`, sum, max. */
  readonly histogram: ActorReport["latency"]
}

export interface ChannelView {
  readonly node: string
  readonly name: string
  readonly id: string
  readonly queued: number
  readonly capacity: number
  readonly received: number
  readonly senders: number
  /** Messages taken per second (decaying average). */
  readonly throughput: number
}

export interface TopicView {
  readonly node: string
  readonly name: string
  readonly subscribers: number
  readonly neighbours: number
  readonly publications: number
  readonly deliveries: number
  /** Deliveries to this node's subscribers per second (decaying average). */
  readonly throughput: number
}

export interface NodeView {
  readonly id: string
  /** "up", or "unresponsive" when it did not answer (its error says why); its actors are then missing. */
  readonly status: "up" | "unresponsive"
  readonly error: string | undefined
  readonly pid: number | null
  readonly uptime: number
  readonly memory: { readonly rss: number; readonly heapUsed: number } | null
  readonly kinds: ReadonlyArray<string>
  readonly actors: number
  readonly links: ReadonlyArray<LinkReport>
}

/** One sample of the system. */
export interface View {
  /** When it was taken (epoch ms) and the sampling interval (ms). */
  readonly at: number
  readonly interval: number
  readonly nodes: ReadonlyArray<NodeView>
  readonly actors: ReadonlyArray<ActorView>
  readonly channels: ReadonlyArray<ChannelView>
  readonly topics: ReadonlyArray<TopicView>
}

export interface Options {
  /** Time between samples. Default 1 second. */
  readonly interval?: Duration.Input | undefined
  /** Half-life of the throughput averages: an idle actor's rate halves in this time. Default 3 seconds. */
  readonly halfLife?: Duration.Input | undefined
  /** How many links away from this node to look (a worker's own workers are 2 away). Default 4. */
  readonly hops?: number | undefined
  /** How long to wait for a node's report before showing it unresponsive. Default 2 seconds. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * The running inspector.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const inspector = yield* Inspector.Inspector
 *   const view = yield* inspector.sample
 *   for (const a of view.actors) console.log(a.node, a.id, a.mailbox, a.throughput)
 * }).pipe(Effect.provide(Inspector.layer()))
 * ```
 */
export class Inspector extends Context.Service<
  Inspector,
  {
    /** The latest sample. */
    readonly view: Effect.Effect<View>
    /** Takes a sample now (besides the periodic ones) and returns it. */
    readonly sample: Effect.Effect<View>
    /** Every sample from now on. */
    readonly changes: Stream.Stream<View>
  }
>()("troupe/Inspector") {}

/**
 * The reports of this node and of every node it reaches (up to `hops` links away), as raw counters.
 * The first look at a node turns metering on there, so its actors count from then on.
 *
 * @example
 * ```ts
 * const reports = yield* Inspector.reports()
 * console.log(reports.map((r) => `${r.node}: ${r.actors.length} actors`))
 * ```
 */
export const reports = (options?: {
  readonly hops?: number | undefined
  readonly timeout?: Duration.Input | undefined
}): Effect.Effect<ReadonlyArray<NodeReport>> =>
  Effect.map(gather(options?.hops ?? 4, Duration.fromInputUnsafe(options?.timeout ?? "2 seconds")), (g) =>
    g.flatMap((r) => ("report" in r ? [r.report] : []))
  )

type Gathered = { readonly report: NodeReport } | { readonly node: string; readonly error: string }

const gather = (hops: number, timeout: Duration.Duration): Effect.Effect<ReadonlyArray<Gathered>> =>
  Effect.gen(function* () {
    const system = yield* ActorSystem
    const context = yield* Effect.context<never>()
    const kinds: Array<string> = []
    for (const [key, value] of context.mapUnsafe) {
      if (key.startsWith(Behaviour.keyPrefix)) kinds.push((value as Behaviour.Impl).protocol.name)
    }
    const own: Gathered = { report: reportOf(system, kinds) }
    const others = yield* Effect.forEach(
      system.router.neighbours,
      (link) =>
        link.inspect(hops - 1).pipe(
          Effect.timeoutOrElse({
            duration: timeout,
            orElse: () => Effect.fail(`no report within ${Duration.format(timeout)}`)
          }),
          Effect.match({
            onSuccess: (reports): ReadonlyArray<Gathered> => reports.map((report) => ({ report })),
            onFailure: (e): ReadonlyArray<Gathered> => [
              { node: link.peer, error: typeof e === "string" ? e : e.message }
            ]
          })
        ),
      { concurrency: "unbounded" }
    )
    return [own, ...others.flat()]
  })

// ------------------------------------------------------------------ from reports to a view

interface Seen {
  at: number
  count: number
  rate: number
  buckets?: ReadonlyArray<number>
  sum?: number
}

/**
 * @internal Turns successive reports into views: rates are decaying averages of the counters'
 * increase, latency percentiles come from the histogram's increase over the interval.
 */
export class Rates {
  private actors = new Map<string, Seen>()
  private channels = new Map<string, Seen>()
  private topics = new Map<string, Seen>()
  private readonly halfLife: number
  constructor(halfLifeMillis: number) {
    this.halfLife = halfLifeMillis
  }

  /** The decaying average after `count` moved from what `seen` remembers, and the new memory. */
  private rate(previous: Seen | undefined, at: number, count: number): Seen {
    // a counter that went down belongs to a node that restarted: start again from it
    if (previous === undefined || count < previous.count || at <= previous.at) return { at, count, rate: 0 }
    const dt = at - previous.at
    const instant = ((count - previous.count) * 1000) / dt
    const keep = Math.pow(2, -dt / this.halfLife)
    const rate = keep * previous.rate + (1 - keep) * instant
    return { at, count, rate: rate < 1e-3 ? 0 : rate }
  }

  view(gathered: ReadonlyArray<Gathered>, at: number, interval: number): View {
    const nodes: Array<NodeView> = []
    const actors: Array<ActorView> = []
    const channels: Array<ChannelView> = []
    const topics: Array<TopicView> = []
    const nextActors = new Map<string, Seen>()
    const nextChannels = new Map<string, Seen>()
    const nextTopics = new Map<string, Seen>()
    for (const g of gathered) {
      if (!("report" in g)) {
        nodes.push({
          id: g.node,
          status: "unresponsive",
          error: g.error,
          pid: null,
          uptime: 0,
          memory: null,
          kinds: [],
          actors: 0,
          links: []
        })
        continue
      }
      const r = g.report
      nodes.push({
        id: r.node,
        status: "up",
        error: undefined,
        pid: r.pid,
        uptime: r.uptime,
        memory: r.memory,
        kinds: r.kinds,
        actors: r.actors.length,
        links: r.links
      })
      for (const a of r.actors) {
        const key = `${r.node}\u0000${a.id}\u0000${a.incarnation}`
        const previous = this.actors.get(key)
        const seen = this.rate(previous, r.at, a.handled)
        seen.buckets = a.latency.buckets
        seen.sum = a.latency.sum
        nextActors.set(key, seen)
        actors.push({
          ...a,
          node: r.node,
          throughput: seen.rate,
          latency: latencyOf(previous, a),
          histogram: a.latency
        })
      }
      for (const c of r.channels) {
        const key = `${r.node}\u0000${c.id}`
        const seen = this.rate(this.channels.get(key), r.at, c.received)
        nextChannels.set(key, seen)
        channels.push({ ...c, node: r.node, throughput: seen.rate })
      }
      for (const t of r.topics) {
        const key = `${r.node}\u0000${t.name}`
        const seen = this.rate(this.topics.get(key), r.at, t.deliveries)
        nextTopics.set(key, seen)
        topics.push({ ...t, node: r.node, throughput: seen.rate })
      }
    }
    // what no longer appears is forgotten: an actor that stopped, a node that went away
    this.actors = nextActors
    this.channels = nextChannels
    this.topics = nextTopics
    return { at, interval, nodes, actors, channels, topics }
  }
}

const latencyOf = (previous: Seen | undefined, a: ActorReport): Latency | undefined => {
  const buckets = a.latency.buckets
  const before = previous?.buckets
  const delta = buckets.map((n, i) => n - (before?.[i] ?? 0))
  if (delta.some((n) => n < 0)) return undefined
  const count = delta.reduce((x, y) => x + y, 0)
  if (count === 0) return undefined
  const quantile = (q: number): number => {
    const target = Math.ceil(q * count)
    let seen = 0
    for (let i = 0; i < delta.length; i++) {
      seen += delta[i]!
      if (seen >= target) return i < latencyBounds.length ? latencyBounds[i]! : a.latency.max
    }
    return a.latency.max
  }
  return {
    p50: quantile(0.5),
    p99: quantile(0.99),
    mean: (a.latency.sum - (previous?.sum ?? 0)) / count,
    max: a.latency.max
  }
}

// ------------------------------------------------------------------ metrics

const actorMetrics = {
  handled: Metric.counter("troupe_actor_messages_total", { description: "Messages an actor has handled" }),
  received: Metric.counter("troupe_actor_received_total", { description: "Messages admitted to an actor's mailbox" }),
  failures: Metric.counter("troupe_actor_failures_total", { description: "Handlers that failed (errors and defects)" }),
  defects: Metric.counter("troupe_actor_defects_total", { description: "Handlers that died" }),
  restarts: Metric.counter("troupe_actor_restarts_total", { description: "Restarts by supervision" }),
  mailbox: Metric.gauge("troupe_actor_mailbox_depth", { description: "Messages waiting in an actor's mailbox" }),
  throughput: Metric.gauge("troupe_actor_throughput", { description: "Messages handled per second (decaying)" }),
  latency: Metric.histogram("troupe_actor_latency_ms", {
    description: "From send to answer, in milliseconds",
    boundaries: latencyBounds
  })
}
const channelMetrics = {
  queued: Metric.gauge("troupe_channel_queued", { description: "Messages waiting in a channel's inbox" }),
  received: Metric.counter("troupe_channel_received_total", { description: "Messages a channel's receiver took" })
}
const topicMetrics = {
  subscribers: Metric.gauge("troupe_topic_subscribers", { description: "Subscribers of a topic on a node" }),
  deliveries: Metric.counter("troupe_topic_deliveries_total", { description: "Publications handed to subscribers" })
}
const nodeMetrics = {
  actors: Metric.gauge("troupe_node_actors", { description: "Actors alive on a node" }),
  heap: Metric.gauge("troupe_node_heap_used_bytes", { description: "JavaScript heap in use on a node" })
}

type Reader = () => unknown

/**
 * The Metric series of what the inspector sees, read from its latest view when metrics are snapshotted
 * (no cost on the message path). Series appear with their actor, channel or topic and go with it.
 */
class Series {
  private readonly registered = new Map<string, Array<Metric.Registration>>()
  private readonly readers = new Map<string, { current: unknown }>()
  private readonly context: Context.Context<never>
  constructor(context: Context.Context<never>) {
    this.context = context
  }

  private ensure(
    key: string,
    current: unknown,
    attributes: Record<string, string>,
    series: ReadonlyArray<readonly [Metric.Metric<any, any>, (x: any) => unknown]>
  ): void {
    const holder = this.readers.get(key)
    if (holder !== undefined) {
      holder.current = current
      return
    }
    const h = { current }
    this.readers.set(key, h)
    this.registered.set(
      key,
      series.map(([metric, read]) => {
        const get: Reader = () => read(h.current)
        return Metric.registerUnsafe(Metric.withAttributes(metric, attributes), this.context, {
          get: get as any,
          update: () => {},
          modify: () => {}
        })
      })
    )
  }

  update(view: View): void {
    const live = new Set<string>()
    const counter = (n: number) => ({ count: n, incremental: false })
    const gauge = (n: number) => ({ value: n })
    for (const a of view.actors) {
      const key = `actor\u0000${a.node}\u0000${a.id}\u0000${a.incarnation}`
      live.add(key)
      this.ensure(key, a, { node: a.node, actor: a.id, protocol: a.protocol }, [
        [actorMetrics.handled, (v: ActorView) => counter(v.handled)],
        [actorMetrics.received, (v: ActorView) => counter(v.received)],
        [actorMetrics.failures, (v: ActorView) => counter(v.failures)],
        [actorMetrics.defects, (v: ActorView) => counter(v.defects)],
        [actorMetrics.restarts, (v: ActorView) => counter(v.restarts)],
        [actorMetrics.mailbox, (v: ActorView) => gauge(v.mailbox)],
        [actorMetrics.throughput, (v: ActorView) => gauge(v.throughput)],
        [actorMetrics.latency, (v: ActorView) => this.histogramOf(v)]
      ])
    }
    for (const c of view.channels) {
      const key = `channel\u0000${c.node}\u0000${c.id}`
      live.add(key)
      this.ensure(key, c, { node: c.node, channel: c.name, inbox: c.id }, [
        [channelMetrics.queued, (v: ChannelView) => gauge(v.queued)],
        [channelMetrics.received, (v: ChannelView) => counter(v.received)]
      ])
    }
    for (const t of view.topics) {
      const key = `topic\u0000${t.node}\u0000${t.name}`
      live.add(key)
      this.ensure(key, t, { node: t.node, topic: t.name }, [
        [topicMetrics.subscribers, (v: TopicView) => gauge(v.subscribers)],
        [topicMetrics.deliveries, (v: TopicView) => counter(v.deliveries)]
      ])
    }
    for (const n of view.nodes) {
      if (n.status !== "up") continue
      const key = `node\u0000${n.id}`
      live.add(key)
      this.ensure(key, n, { node: n.id }, [
        [nodeMetrics.actors, (v: NodeView) => gauge(v.actors)],
        [nodeMetrics.heap, (v: NodeView) => gauge(v.memory?.heapUsed ?? 0)]
      ])
    }
    for (const key of Array.from(this.registered.keys())) if (!live.has(key)) this.drop(key)
  }

  private histogramOf(v: ActorView): Metric.HistogramState {
    const latency = v.histogram
    const buckets: Array<[number, number]> = []
    let cumulated = 0
    let count = 0
    let min = Number.POSITIVE_INFINITY
    for (let i = 0; i < latency.buckets.length; i++) {
      const n = latency.buckets[i]!
      count += n
      // the lower bound of the first bucket in use: the histogram does not keep the exact minimum
      if (n > 0 && min === Number.POSITIVE_INFINITY) min = i === 0 ? 0 : latencyBounds[i - 1]!
      if (i < latencyBounds.length) {
        cumulated += n
        buckets.push([latencyBounds[i]!, cumulated])
      }
    }
    return { buckets, count, min: count === 0 ? 0 : min, max: latency.max, sum: latency.sum }
  }

  private drop(key: string): void {
    for (const r of this.registered.get(key) ?? []) r.remove()
    this.registered.delete(key)
    this.readers.delete(key)
  }

  close(): void {
    for (const key of Array.from(this.registered.keys())) this.drop(key)
  }
}

// ------------------------------------------------------------------ the service

/**
 * The inspector of this node's system: samples every node it reaches at an interval, keeps the latest
 * view, and registers every figure as an Effect Metric series in the current MetricRegistry (so an
 * OpenTelemetry metrics exporter in the same program reports them). Serve it as a web page with
 * `InspectorPage.layer` from `troupe/node`.
 *
 * @example
 * ```ts
 * Layer.mergeAll(Workers.layer({ host }), Inspector.layer({ interval: "500 millis" }))
 * ```
 */
export const layer = (options: Options = {}): Layer.Layer<Inspector> =>
  Layer.effect(
    Inspector,
    Effect.gen(function* () {
      const interval = Duration.toMillis(Duration.fromInputUnsafe(options.interval ?? "1 second"))
      const halfLife = Duration.toMillis(Duration.fromInputUnsafe(options.halfLife ?? "3 seconds"))
      const timeout = Duration.fromInputUnsafe(options.timeout ?? "2 seconds")
      const hops = options.hops ?? 4
      const context = yield* Effect.context<never>()
      const rates = new Rates(halfLife)
      const series = new Series(context)
      yield* Effect.addFinalizer(() => Effect.sync(() => series.close()))
      const lock = yield* Semaphore.make(1)
      const latest = yield* SubscriptionRef.make<View>({
        at: Date.now(),
        interval,
        nodes: [],
        actors: [],
        channels: [],
        topics: []
      })
      const sample = lock.withPermits(1)(
        Effect.gen(function* () {
          const view = rates.view(yield* gather(hops, timeout), Date.now(), interval)
          series.update(view)
          yield* SubscriptionRef.set(latest, view)
          return view
        })
      )
      yield* sample.pipe(Effect.repeat(Schedule.spaced(interval)), Effect.forkScoped)
      return Inspector.of({
        view: SubscriptionRef.get(latest),
        sample,
        changes: SubscriptionRef.changes(latest)
      })
    })
  )

/** @internal exposed for tests of the rate arithmetic */
export const makeRates = (halfLife: Duration.Input): Rates =>
  new Rates(Duration.toMillis(Duration.fromInputUnsafe(halfLife)))

/** @internal */
export const gathered = (report: NodeReport): Gathered => ({ report })
