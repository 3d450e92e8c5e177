/**
 * Inspector: a live view of the whole system (every node this one reaches, their actors, mailboxes,
 * throughput, latency, failures and restarts, channels and topics), sampled at an interval. Each figure
 * is also an Effect Metric series, so an OpenTelemetry exporter reports what the page shows. The page
 * itself is served by `InspectorPage` in `troupe/node`; this module is platform-neutral.
 */
import {
  Context,
  Duration,
  Effect,
  Layer,
  Metric,
  Schedule,
  type Scope,
  Semaphore,
  Stream,
  SubscriptionRef
} from "effect"
import * as ActorSystem from "./ActorSystem.ts"
import * as Behaviour from "./Behaviour.ts"
import { latencyBounds } from "./internal/meter.ts"
import { Rates } from "./internal/rates.ts"
import type { ActorReport, LinkReport, NodeReport, Unanswered } from "./internal/report.ts"
import { distinct, reportOf } from "./internal/report.ts"
import * as F from "./internal/wire/frame.ts"
import { inspectAll } from "./internal/wire/link.ts"

export { ActorReport, ChannelReport, LinkReport, NodeReport, TopicReport, Unanswered } from "./internal/report.ts"
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

/** A node that answered: its process, what it can spawn, its links. */
export interface NodeUp {
  readonly id: string
  readonly status: "up"
  /** When the node made its report (epoch ms, the node's clock). */
  readonly at: number
  readonly pid: number | null
  /** Uptime of the node's process (ms). */
  readonly uptime: number
  readonly memory: { readonly rss: number; readonly heapUsed: number } | null
  readonly kinds: ReadonlyArray<string>
  /** Actors alive on it, and how many of them its report left out (past 100,000). */
  readonly actors: number
  readonly omitted: number
  readonly links: ReadonlyArray<LinkReport>
  /**
   * Actors spawned on it since it started (those whose build failed included; a restart is not a spawn),
   * and those of them passivated (stopped for being idle).
   */
  readonly spawned: number
  readonly passivated: number
  /** Messages it dropped with no sender to tell, since it started (see `DeadLetter`). */
  readonly deadLetters: number
  /** The latest of them (at most 8), oldest first; `at` is the node's clock (epoch ms). */
  readonly recentDeadLetters: NodeReport["recentDeadLetters"]
}

/** A node that did not answer in time, or whose link failed: its actors are missing from this sample. */
export interface NodeUnresponsive {
  readonly id: string
  readonly status: "unresponsive"
  readonly error: string
}

export type NodeView = NodeUp | NodeUnresponsive

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
  /**
   * How many links away from this node to look: 0 is this node alone, 1 its workers, children and
   * remote sessions, 2 also theirs. From 0 to 9; default 4.
   */
  readonly hops?: number | undefined
  /**
   * How long to wait for the reports; a node that has not answered by then is shown unresponsive (each
   * node passes on a shorter wait to the nodes behind it, so that it answers in time). Default 2 seconds.
   */
  readonly timeout?: Duration.Input | undefined
  /**
   * The Metric series of actors: one per actor ("actor", the default), one per protocol on each node
   * ("protocol": counters and histograms summed, those of stopped actors kept, so counters never go
   * back; for systems with many actors), or none ("none"; nodes, channels and topics still have theirs).
   */
  readonly metrics?: "actor" | "protocol" | "none" | undefined
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
    /** The latest sample, then every sample from now on. */
    readonly changes: Stream.Stream<View>
  }
>()("troupe/Inspector") {}

/**
 * The reports of this node and of every node it reaches (up to `hops` links away), as raw counters; a
 * node that did not answer in time is an `Unanswered` entry (its id and why). The first look at a node
 * turns metering on there, so its actors count from then on.
 *
 * @example
 * ```ts
 * const reports = yield* Inspector.reports()
 * for (const r of reports) console.log("error" in r ? `${r.node}: ${r.error}` : `${r.node}: ${r.actors.length}`)
 * ```
 */
export const reports = (
  options: Pick<Options, "hops" | "timeout"> = {}
): Effect.Effect<ReadonlyArray<NodeReport | Unanswered>> =>
  Effect.suspend(() => {
    const { hops, timeout } = checked(options)
    return Effect.gen(function* () {
      const system = yield* ActorSystem.ActorSystem
      return yield* gather([system], kindsIn(yield* Effect.context<never>()), hops, timeout)
    })
  })

/** The options, checked: a bad one is a defect at once rather than a link closed by a peer later. */
const checked = (options: Options) => {
  const hops = options.hops ?? 4
  if (!Number.isInteger(hops) || hops < 0 || hops > F.MAX_INSPECT_HOPS + 1) {
    throw new RangeError(`Inspector: hops must be a whole number from 0 to ${F.MAX_INSPECT_HOPS + 1}, got ${hops}`)
  }
  const millis = (name: string, input: Duration.Input) => {
    const ms = Duration.toMillis(Duration.fromInputUnsafe(input))
    if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`Inspector: ${name} must be positive, got ${ms} ms`)
    return ms
  }
  return {
    hops,
    timeout: Math.min(millis("timeout", options.timeout ?? "2 seconds"), F.MAX_INSPECT_BUDGET),
    interval: millis("interval", options.interval ?? "1 second"),
    halfLife: millis("halfLife", options.halfLife ?? "3 seconds")
  }
}

/** The kinds of actors a context's behaviours can spawn. */
const kindsIn = (context: Context.Context<never>): Array<string> => {
  const kinds: Array<string> = []
  for (const [key, value] of context.mapUnsafe) {
    if (key.startsWith(Behaviour.keyPrefix)) kinds.push((value as Behaviour.Impl).protocol.name)
  }
  return kinds
}

/** The reports of these systems (the nodes of this process) and of the nodes behind them. */
const gather = (
  systems: Iterable<ActorSystem.ActorSystem>,
  kinds: ReadonlyArray<string>,
  hops: number,
  timeout: number
): Effect.Effect<ReadonlyArray<NodeReport | Unanswered>> =>
  Effect.suspend(() => {
    const local = Array.from(systems)
    const own = local.map((system) => reportOf(system, kinds))
    if (hops === 0) return Effect.succeed(own)
    return Effect.map(
      inspectAll(
        local.flatMap((system) => system.router.inspectable),
        hops - 1,
        timeout
      ),
      (others) => distinct([...own, ...others])
    )
  })

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
  heap: Metric.gauge("troupe_node_heap_used_bytes", { description: "JavaScript heap in use on a node" }),
  deadLetters: Metric.counter("troupe_node_dead_letters_total", {
    description: "Messages a node dropped with no sender to tell"
  }),
  spawned: Metric.counter("troupe_node_spawned_total", { description: "Actors spawned on a node" }),
  passivated: Metric.counter("troupe_node_passivated_total", {
    description: "Actors a node stopped for being idle (idleTimeout)"
  })
}

/**
 * One series as registered in one MetricRegistry, shared by the inspectors of that registry: it reads
 * the value of the inspector that saw it last, and goes when no inspector sees it any more. Registering
 * it again from a second inspector would replace the first one's, and closing the second would then
 * remove it for both.
 */
class Shared {
  /** Each inspector's latest value, with when it sampled it: the series reads the newest. */
  readonly holders = new Map<object, { readonly value: unknown; readonly at: number }>()
  registrations: ReadonlyArray<Metric.Registration> = []
  get current(): unknown {
    let newest: { readonly value: unknown; readonly at: number } | undefined
    // an inspector whose sample waited longer for a slow node must not take a counter back
    for (const held of this.holders.values()) if (newest === undefined || held.at > newest.at) newest = held
    return newest?.value
  }
}
const sharedByRegistry = new WeakMap<object, Map<string, Shared>>()

/**
 * The Metric series of what the inspector sees, read from its latest view when metrics are snapshotted
 * (no cost on the message path). Series appear with their actor, channel or topic and go with it.
 */
class Series {
  private readonly mine = new Set<string>()
  private readonly protocols = new ProtocolTotals()
  private readonly shared: Map<string, Shared>
  private readonly context: Context.Context<never>
  private readonly granularity: "actor" | "protocol" | "none"
  constructor(context: Context.Context<never>, granularity: "actor" | "protocol" | "none") {
    this.context = context
    this.granularity = granularity
    const registry = Context.get(context, Metric.MetricRegistry)
    let shared = sharedByRegistry.get(registry)
    if (shared === undefined) {
      shared = new Map()
      sharedByRegistry.set(registry, shared)
    }
    this.shared = shared
  }

  /** When each node of the view being registered made its report. */
  private reportedAt = new Map<string, number>()

  private ensure(
    key: string,
    current: unknown,
    attributes: Record<string, string>,
    series: ReadonlyArray<readonly [Metric.Metric<any, any>, (x: any) => unknown]>
  ): void {
    let entry = this.shared.get(key)
    if (entry === undefined) {
      const created = new Shared()
      created.registrations = series.map(([metric, read]) =>
        Metric.registerUnsafe(Metric.withAttributes(metric, attributes), this.context, {
          get: (() => read(created.current)) as any,
          update: () => {},
          modify: () => {}
        })
      )
      this.shared.set(key, created)
      entry = created
    }
    entry.holders.set(this, { value: current, at: this.reportedAt.get(attributes["node"]!) ?? 0 })
    this.mine.add(key)
  }

  update(view: View): void {
    this.reportedAt = new Map(view.nodes.flatMap((n) => (n.status === "up" ? [[n.id, n.at] as const] : [])))
    const live = new Set<string>()
    const counter = (n: number) => ({ count: n, incremental: false })
    const gauge = (n: number) => ({ value: n })
    const actorSeries: ReadonlyArray<readonly [Metric.Metric<any, any>, (v: ActorFigures) => unknown]> = [
      [actorMetrics.handled, (v) => counter(v.handled)],
      [actorMetrics.received, (v) => counter(v.received)],
      [actorMetrics.failures, (v) => counter(v.failures)],
      [actorMetrics.defects, (v) => counter(v.defects)],
      [actorMetrics.restarts, (v) => counter(v.restarts)],
      [actorMetrics.mailbox, (v) => gauge(v.mailbox)],
      [actorMetrics.throughput, (v) => gauge(v.throughput)],
      [actorMetrics.latency, (v) => histogramOf(v.histogram)]
    ]
    if (this.granularity === "actor") {
      for (const a of view.actors) {
        const key = `actor\u0000${a.node}\u0000${a.id}\u0000${a.incarnation}`
        live.add(key)
        this.ensure(key, a, { node: a.node, actor: a.id, protocol: a.protocol }, actorSeries)
      }
    } else if (this.granularity === "protocol") {
      for (const [key, group] of this.protocols.update(view)) {
        live.add(key)
        this.ensure(key, group, { node: group.node, protocol: group.protocol }, actorSeries)
      }
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
        [nodeMetrics.actors, (v: NodeUp) => gauge(v.actors)],
        [nodeMetrics.heap, (v: NodeUp) => gauge(v.memory?.heapUsed ?? 0)],
        [nodeMetrics.deadLetters, (v: NodeUp) => counter(v.deadLetters)],
        [nodeMetrics.spawned, (v: NodeUp) => counter(v.spawned)],
        [nodeMetrics.passivated, (v: NodeUp) => counter(v.passivated)]
      ])
    }
    for (const key of Array.from(this.mine)) if (!live.has(key)) this.drop(key)
  }

  private drop(key: string): void {
    this.mine.delete(key)
    const entry = this.shared.get(key)
    if (entry === undefined) return
    entry.holders.delete(this)
    if (entry.holders.size > 0) return
    for (const r of entry.registrations) r.remove()
    this.shared.delete(key)
  }

  close(): void {
    for (const key of Array.from(this.mine)) this.drop(key)
  }
}

/** A cumulative histogram (counts per bucket of `latencyBounds`) as a Metric's histogram state. */
const histogramOf = (latency: ActorReport["latency"]): Metric.HistogramState => {
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

/** What an actor's Metric series read: one actor's figures, or the sum of a protocol's on one node. */
interface ActorFigures {
  readonly handled: number
  readonly received: number
  readonly failures: number
  readonly defects: number
  readonly restarts: number
  readonly mailbox: number
  readonly throughput: number
  readonly histogram: ActorReport["latency"]
}

interface ProtocolFigures extends ActorFigures {
  readonly node: string
  readonly protocol: string
}

const zero = (): { -readonly [K in keyof ActorFigures]: ActorFigures[K] } => ({
  handled: 0,
  received: 0,
  failures: 0,
  defects: 0,
  restarts: 0,
  mailbox: 0,
  throughput: 0,
  histogram: { buckets: new Array(latencyBounds.length + 1).fill(0), sum: 0, max: 0 }
})

const addCounts = (into: ReturnType<typeof zero>, a: ActorFigures): void => {
  into.handled += a.handled
  into.received += a.received
  into.failures += a.failures
  into.defects += a.defects
  into.restarts += a.restarts
  const buckets = into.histogram.buckets as Array<number>
  a.histogram.buckets.forEach((n, i) => (buckets[i] = buckets[i]! + n))
  into.histogram = {
    buckets,
    sum: into.histogram.sum + a.histogram.sum,
    max: Math.max(into.histogram.max, a.histogram.max)
  }
}

/**
 * The actors' figures summed per protocol on each node. An actor that is gone leaves its counts with its
 * protocol ("retired"), so the protocol's counters only grow, as Metric counters must; a node that is
 * gone takes its protocols' series with it.
 */
class ProtocolTotals {
  private last = new Map<string, { readonly group: string; readonly actor: ActorView }>()
  private retired = new Map<string, ReturnType<typeof zero>>()

  update(view: View): Map<string, ProtocolFigures> {
    const keyOf = (node: string, protocol: string) => `protocol\u0000${node}\u0000${protocol}`
    const next = new Map<string, { readonly group: string; readonly actor: ActorView }>()
    for (const a of view.actors) {
      next.set(`${a.node}\u0000${a.id}\u0000${a.incarnation}`, { group: keyOf(a.node, a.protocol), actor: a })
    }
    for (const [id, { group, actor }] of this.last) {
      if (next.has(id)) continue
      const retired = this.retired.get(group) ?? zero()
      addCounts(retired, actor)
      this.retired.set(group, retired)
    }
    this.last = next
    const up = new Set(view.nodes.flatMap((n) => (n.status === "up" ? [n.id] : [])))
    const groups = new Map<string, ProtocolFigures>()
    const live = new Map<string, { node: string; protocol: string; figures: ReturnType<typeof zero> }>()
    const groupOf = (node: string, protocol: string) => {
      const key = keyOf(node, protocol)
      let group = live.get(key)
      if (group === undefined) {
        group = { node, protocol, figures: zero() }
        const retired = this.retired.get(key)
        if (retired !== undefined) addCounts(group.figures, retired)
        live.set(key, group)
      }
      return group
    }
    for (const { actor } of next.values()) {
      const group = groupOf(actor.node, actor.protocol).figures
      addCounts(group, actor)
      group.mailbox += actor.mailbox
      group.throughput += actor.throughput
    }
    for (const key of Array.from(this.retired.keys())) {
      const [, node, protocol] = key.split("\u0000") as [string, string, string]
      if (up.has(node)) groupOf(node, protocol)
      else this.retired.delete(key)
    }
    for (const [key, { node, protocol, figures }] of live) groups.set(key, { ...figures, node, protocol })
    return groups
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
    Effect.flatMap(Effect.context<never>(), (context) => {
      // bound to the system and behaviours of the Layer's context, whoever calls `sample`
      const system = Context.get(context, ActorSystem.ActorSystem)
      return make(() => [system], kindsIn(context), options)
    })
  )

/**
 * @internal An inspector of several systems in this process (a server's client sessions), each shown
 * as a node of its own.
 */
export const layerOver = (
  systems: () => Iterable<ActorSystem.ActorSystem>,
  kinds: ReadonlyArray<string>,
  options: Options = {}
): Layer.Layer<Inspector> => Layer.effect(Inspector, make(systems, kinds, options))

const make = (
  systems: () => Iterable<ActorSystem.ActorSystem>,
  kinds: ReadonlyArray<string>,
  options: Options
): Effect.Effect<Inspector["Service"], never, Scope.Scope> =>
  Effect.gen(function* () {
    const { hops, timeout, interval, halfLife } = checked(options)
    const context = yield* Effect.context<never>()
    const rates = new Rates(halfLife)
    const series = new Series(context, options.metrics ?? "actor")
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
        const view = rates.view(yield* gather(systems(), kinds, hops, timeout), Date.now(), interval)
        series.update(view)
        yield* SubscriptionRef.set(latest, view)
        return view
      })
    )
    // a sample that dies (a bug) is logged, and the next one is taken as planned
    const periodic = sample.pipe(
      Effect.catchCause((cause) => Effect.logWarning("troupe: an inspector sample failed", cause))
    )
    yield* periodic.pipe(Effect.repeat(Schedule.spaced(interval)), Effect.forkScoped)
    return Inspector.of({
      view: SubscriptionRef.get(latest),
      sample,
      changes: SubscriptionRef.changes(latest)
    })
  })
