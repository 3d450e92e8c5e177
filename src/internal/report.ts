/**
 * What one node tells the inspector about itself: its actors' meters, its channels, topics and links,
 * as raw counters (the inspector turns two reports into rates). The Schemas check a report that came
 * over the wire before the inspector reads it; `reportOf` builds this node's own.
 */
import { Schema } from "effect"
import type { ActorSystem } from "../ActorSystem.ts"
import { recentKept } from "./deadletters.ts"
import { latencyBounds } from "./meter.ts"

// a peer's numbers are checked too: NaN or Infinity would poison the rates and the page
const Count = Schema.Number.check(Schema.isFinite(), Schema.isGreaterThanOrEqualTo(0))

/**
 * The most actors one report lists, and one answer to INSPECT (a node and the nodes behind it): past it
 * they say how many they left out. About 190 bytes an actor keeps an answer within 20 MB, under the
 * wire's default frame limit.
 */
export const maxActorsPerReport = 100_000

export const ActorReport = Schema.Struct({
  id: Schema.String,
  protocol: Schema.String,
  incarnation: Count,
  state: Schema.Literals(["starting", "active", "restarting", "stopping", "terminated"]),
  mailbox: Count,
  capacity: Count,
  received: Count,
  handled: Count,
  failures: Count,
  defects: Count,
  restarts: Count,
  /**
   * Latency counts per bucket of `latencyBounds` (plus one past the last), their sum and maximum (ms).
   * Busy actors' latencies are sampled and weighted (see meter.ts): the counts estimate every message.
   */
  latency: Schema.Struct({
    buckets: Schema.Array(Count).check(
      Schema.isMinLength(latencyBounds.length + 1),
      Schema.isMaxLength(latencyBounds.length + 1)
    ),
    sum: Count,
    max: Count
  }),
  lastError: Schema.NullOr(Schema.String)
})
export type ActorReport = typeof ActorReport.Type

export const ChannelReport = Schema.Struct({
  name: Schema.String,
  id: Schema.String,
  queued: Count,
  capacity: Count,
  received: Count,
  senders: Count
})
export type ChannelReport = typeof ChannelReport.Type

export const TopicReport = Schema.Struct({
  name: Schema.String,
  subscribers: Count,
  neighbours: Count,
  publications: Count,
  deliveries: Count
})
export type TopicReport = typeof TopicReport.Type

export const LinkReport = Schema.Struct({
  peer: Schema.String,
  status: Schema.String,
  pending: Count,
  inbound: Count,
  unsent: Count,
  /** Casters waiting for credit: the mailbox of an actor they cast to over this link is full. */
  castsWaiting: Count
})
export type LinkReport = typeof LinkReport.Type

export const NodeReport = Schema.Struct({
  node: Schema.String,
  /** Wall-clock time of the report (epoch ms), and the uptime of its process (ms). */
  at: Count,
  uptime: Count,
  pid: Schema.NullOr(Count),
  memory: Schema.NullOr(Schema.Struct({ rss: Count, heapUsed: Count })),
  /** The actor kinds this node can spawn (its host module's behaviours). */
  kinds: Schema.Array(Schema.String),
  actors: Schema.Array(ActorReport),
  /** Actors alive but not listed (past `maxActorsPerReport`). */
  omitted: Count,
  channels: Schema.Array(ChannelReport),
  topics: Schema.Array(TopicReport),
  links: Schema.Array(LinkReport),
  /** Actors spawned on the node since it began, and those of them stopped for being idle (passivated). */
  spawned: Count,
  passivated: Count,
  /** Messages the node dropped with no sender to tell (see DeadLetter.ts), and the latest of them. */
  deadLetters: Count,
  recentDeadLetters: Schema.Array(
    Schema.Struct({
      at: Count,
      kind: Schema.Literals(["cast", "channel"]),
      target: Schema.String,
      name: Schema.String,
      reason: Schema.String,
      message: Schema.String,
      from: Schema.NullOr(Schema.String)
    })
  ).check(Schema.isMaxLength(recentKept))
})
export type NodeReport = typeof NodeReport.Type

/** A node that did not report: its id and why (it did not answer in time, its link closed...). */
export const Unanswered = Schema.Struct({ node: Schema.String, error: Schema.String })
export type Unanswered = typeof Unanswered.Type

/** A node's answer to INSPECT: its own report, then the nodes behind it. */
export const Reports = Schema.Array(Schema.Union([NodeReport, Unanswered]))
export type Reports = typeof Reports.Type

/** Leaves out the actors past `maxActorsPerReport` in the whole answer (the last nodes' first). */
export const capActors = (entries: Array<NodeReport | Unanswered>): Array<NodeReport | Unanswered> => {
  let room = maxActorsPerReport
  return entries.map((entry) => {
    if ("error" in entry) return entry
    if (entry.actors.length <= room) {
      room -= entry.actors.length
      return entry
    }
    const kept = entry.actors.slice(0, room)
    room = 0
    return { ...entry, actors: kept, omitted: entry.omitted + entry.actors.length - kept.length }
  })
}

/** Keeps the first entry of each node: a cycle of links, or a confused peer, must not list one twice. */
export const distinct = (entries: Iterable<NodeReport | Unanswered>): Array<NodeReport | Unanswered> => {
  const seen = new Set<string>()
  const out: Array<NodeReport | Unanswered> = []
  for (const entry of entries) {
    if (seen.has(entry.node)) continue
    seen.add(entry.node)
    out.push(entry)
  }
  return out
}

const started = Date.now()
const proc = (globalThis as { process?: { pid?: number; memoryUsage?: () => { rss: number; heapUsed: number } } })
  .process

/** This node's report; the first one turns metering on, so its actors count from then on. */
export const reportOf = (system: ActorSystem, kinds: ReadonlyArray<string>): NodeReport => {
  system.meter()
  const actors: Array<ActorReport> = []
  let omitted = 0
  for (const cell of system.cells()) {
    // system.meter() above gave every cell a meter
    const meter = cell.meter!
    meter.reported()
    if (actors.length >= maxActorsPerReport) {
      omitted++
      continue
    }
    actors.push({
      id: cell.id,
      protocol: cell.protocol.name,
      incarnation: cell.incarnation,
      state: cell.state,
      mailbox: cell.depth,
      capacity: cell.capacity,
      received: meter.received,
      handled: meter.handled,
      failures: meter.failures,
      defects: meter.defects,
      restarts: meter.restarts,
      latency: { buckets: meter.buckets.slice(), sum: meter.latencySum, max: meter.latencyMax },
      lastError: meter.lastError ?? null
    })
  }
  const memory = proc?.memoryUsage?.()
  return {
    node: system.nodeId,
    at: Date.now(),
    uptime: Date.now() - started,
    pid: proc?.pid ?? null,
    memory: memory === undefined ? null : { rss: memory.rss, heapUsed: memory.heapUsed },
    kinds: Array.from(kinds),
    actors,
    omitted,
    spawned: system.spawned,
    passivated: system.passivated,
    ...system.router.report()
  }
}
