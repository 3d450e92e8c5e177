/**
 * What one node tells the inspector about itself: its actors' meters, its channels, topics and links,
 * as raw counters (the inspector turns two reports into rates). The Schemas check a report that came
 * over the wire before the inspector reads it; `reportOf` builds this node's own.
 */
import { Schema } from "effect"
import type { ActorSystem } from "../ActorSystem.ts"
import { latencyBounds } from "./meter.ts"

const Count = Schema.Number

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
  latency: Schema.Struct({ buckets: Schema.Array(Count), sum: Count, max: Count }),
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
  unsent: Count
})
export type LinkReport = typeof LinkReport.Type

export const NodeReport = Schema.Struct({
  node: Schema.String,
  /** Wall-clock time of the report (epoch ms) and the node's uptime (ms), to turn counters into rates. */
  at: Count,
  uptime: Count,
  pid: Schema.NullOr(Count),
  memory: Schema.NullOr(Schema.Struct({ rss: Count, heapUsed: Count })),
  /** The actor kinds this node can spawn (its host module's behaviours). */
  kinds: Schema.Array(Schema.String),
  actors: Schema.Array(ActorReport),
  channels: Schema.Array(ChannelReport),
  topics: Schema.Array(TopicReport),
  links: Schema.Array(LinkReport)
})
export type NodeReport = typeof NodeReport.Type

/** A node's answer to INSPECT: its own report and those of the nodes behind it. */
export const Reports = Schema.Array(NodeReport)

const started = Date.now()
const proc = (globalThis as { process?: { pid?: number; memoryUsage?: () => { rss: number; heapUsed: number } } })
  .process

/** This node's report; the first one turns metering on, so its actors count from then on. */
export const reportOf = (system: ActorSystem, kinds: ReadonlyArray<string>): NodeReport => {
  system.meter()
  const actors: Array<ActorReport> = []
  for (const cell of system.cells()) {
    const meter = cell.meter
    meter?.reported()
    actors.push({
      id: cell.id,
      protocol: cell.protocol.name,
      incarnation: cell.incarnation,
      state: cell.state,
      mailbox: cell.depth,
      capacity: cell.capacity,
      received: meter?.received ?? 0,
      handled: meter?.handled ?? 0,
      failures: meter?.failures ?? 0,
      defects: meter?.defects ?? 0,
      restarts: meter?.restarts ?? 0,
      latency: {
        buckets: meter?.buckets.slice() ?? new Array(latencyBounds.length + 1).fill(0),
        sum: meter?.latencySum ?? 0,
        max: meter?.latencyMax ?? 0
      },
      lastError: meter?.lastError ?? null
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
    ...system.router.report()
  }
}
