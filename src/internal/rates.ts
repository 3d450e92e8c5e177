/**
 * From successive node reports to the inspector's views: throughputs are decaying averages of how fast
 * the counters grew, latency percentiles come from how the histogram grew over the interval. What no
 * longer appears in a report is forgotten.
 */
import type { ActorView, ChannelView, Latency, NodeView, TopicView, View } from "../Inspector.ts"
import { latencyBounds } from "./meter.ts"
import type { ActorReport, NodeReport, Unanswered } from "./report.ts"

interface Seen {
  readonly at: number
  readonly count: number
  readonly rate: number
  readonly latency?: ActorReport["latency"]
}

export class Rates {
  private actors = new Map<string, Seen>()
  private channels = new Map<string, Seen>()
  private topics = new Map<string, Seen>()
  private readonly halfLife: number
  constructor(halfLifeMillis: number) {
    this.halfLife = halfLifeMillis
  }

  /** The decaying average once `count` moved from what `previous` remembers, and the new memory. */
  private rate(previous: Seen | undefined, at: number, count: number): Seen {
    // a counter that went down belongs to a node that restarted: start again from it
    if (previous === undefined || count < previous.count) return { at, count, rate: 0 }
    // two samples in one millisecond say nothing new about the rate
    if (at <= previous.at) return previous
    const dt = at - previous.at
    const instant = ((count - previous.count) * 1000) / dt
    const keep = Math.pow(2, -dt / this.halfLife)
    const rate = keep * previous.rate + (1 - keep) * instant
    return { at, count, rate: rate < 1e-3 ? 0 : rate }
  }

  view(entries: ReadonlyArray<NodeReport | Unanswered>, at: number, interval: number): View {
    const nodes: Array<NodeView> = []
    const actors: Array<ActorView> = []
    const channels: Array<ChannelView> = []
    const topics: Array<TopicView> = []
    const nextActors = new Map<string, Seen>()
    const nextChannels = new Map<string, Seen>()
    const nextTopics = new Map<string, Seen>()
    for (const r of entries) {
      if ("error" in r) {
        nodes.push({ id: r.node, status: "unresponsive", error: r.error })
        continue
      }
      nodes.push({
        id: r.node,
        status: "up",
        at: r.at,
        pid: r.pid,
        uptime: r.uptime,
        memory: r.memory,
        kinds: r.kinds,
        actors: r.actors.length + r.omitted,
        omitted: r.omitted,
        links: r.links,
        spawned: r.spawned,
        passivated: r.passivated,
        deadLetters: r.deadLetters,
        recentDeadLetters: r.recentDeadLetters
      })
      for (const a of r.actors) {
        const key = `${r.node}\u0000${a.id}\u0000${a.incarnation}`
        const previous = this.actors.get(key)
        const seen = { ...this.rate(previous, r.at, a.handled), latency: a.latency }
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

/** p50/p99/mean of what the histogram gained since `previous`; undefined if it gained nothing. */
const latencyOf = (previous: Seen | undefined, a: ActorReport): Latency | undefined => {
  const now = a.latency
  const before = previous?.latency
  const delta = now.buckets.map((n, i) => n - (before?.buckets[i] ?? 0))
  if (delta.some((n) => n < 0)) return undefined
  const count = delta.reduce((x, y) => x + y, 0)
  if (count === 0) return undefined
  const quantile = (q: number): number => {
    const target = Math.ceil(q * count)
    let seen = 0
    for (let i = 0; i < delta.length; i++) {
      seen += delta[i]!
      if (seen >= target) return i < latencyBounds.length ? latencyBounds[i]! : now.max
    }
    return now.max
  }
  return { p50: quantile(0.5), p99: quantile(0.99), mean: (now.sum - (before?.sum ?? 0)) / count, max: now.max }
}
