/**
 * Channels and topics (issue 5): how fast Troupe's Channel and Topic move `{ seq }` messages between
 * nodes, against Effect's in-process Queue and PubSub measured in the same run. No bars: the issue sets
 * none, so the tables give the ratios to the baselines.
 *
 * One system for everything: an isolated `ActorSystem.layer()` shared by the main program, its
 * in-process actors, a `Workers` pool of two worker threads and one `Subprocess` child, all serving the
 * host module hosts/channels.ts (Sink, Source and Subscribers actors).
 *
 * Channels, messages/s (each block: the receiver's `take({ n })` call starts, the sender sends n, the
 * block ends when the receiver has taken all n and checked that they came in order):
 *   - worker → worker: a Source actor on worker A sends to the inbox of a Sink actor on worker B (actors
 *     are spawned until `ActorRef.location` differs). The route is worker A → main → worker B.
 *   - main → child: the main program sends (`Channel.send` in a fiber) to a Sink in the child process.
 *   - main → in-process actor: the same to a Sink spawned in-process (for reference: no wire).
 *   - baseline: `Queue.bounded(1024)` between two fibers, `Queue.offer` and `Queue.take` one at a time.
 *     The inboxes also hold 1024 (`Channel.open(Flow, { capacity: 1024 })`).
 *
 * Topic fan-out, deliveries/s (publications × subscribers that received them):
 *   - Troupe: 1000 subscribers, 334 in-process, 333 on a worker and 333 in the child, each a fiber
 *     holding its own `Topic.subscribe` (capacity 256, "suspend") started by a Subscribers actor on that
 *     node. The main program publishes P publications one by one (`Topic.publish`); the block ends when
 *     every subscriber has received the last one. Each subscriber checks that every `seq` follows the
 *     one before, and the deliveries counted by the nodes must be exactly P × 1000 per block.
 *   - baselines: `PubSub.bounded(256)` with 1000 subscriber fibers in this process and the same checks,
 *     twice: fibers that loop on `PubSub.takeAll` (the raw way), and fibers that run
 *     `Stream.fromSubscription` with `Stream.runForEach`, as the Troupe subscribers run the Stream of
 *     `Topic.subscribe`. The two differ by more than an order of magnitude: a Stream subscriber is
 *     resumed for every publication (batches of one element), a takeAll loop takes what has piled up.
 */
import { Effect, Exit, Fiber, Layer, ManagedRuntime, PubSub, Queue, Scope, Stream } from "effect"
import { Actor, ActorRef, ActorSystem, Channel, Topic } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import {
  expectEqual,
  formatRatio,
  formatRate,
  header,
  measureInterleaved,
  pick,
  printTable,
  recordExtra,
  section,
  warmUpAll,
  type Workload
} from "./lib/harness.ts"
import {
  type Message,
  Sink,
  SinkLive,
  Source,
  SourceLive,
  Subscribers,
  SubscribersLive,
  Ticks
} from "./hosts/channels.ts"
import { SequenceTracker } from "./lib/sequence.ts"

const host = new URL("./hosts/channels.ts", import.meta.url)
const subscriberCount = 1000
const subscriberCapacity = 256
const inboxCapacity = 1024
/** A wait that should take milliseconds; a lost message must fail the run, not hang it. */
const bounded = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(Effect.timeoutOrElse({ duration: "30 seconds", orElse: () => Effect.die("a wait timed out") }))

header("bench/channels.bench.ts", "Channels and topics: Troupe across nodes vs Effect Queue and PubSub in-process")

const runtime = ManagedRuntime.make(
  Layer.mergeAll(
    SinkLive,
    SourceLive,
    SubscribersLive,
    Workers.layer({ host, size: 2 }),
    Subprocess.layer({ host })
  ).pipe(Layer.provideMerge(ActorSystem.layer()))
)
const run = <A, E>(effect: Effect.Effect<A, E, any>): Promise<A> => runtime.runPromise(effect as Effect.Effect<A, E>)

// ------------------------------------------------------------------ placing the actors

const sinkB = await run(Actor.spawn(Sink, { id: "sink-worker", backend: Workers }))
let sourceA: ActorRef.ActorRef<typeof Source> | undefined
for (let i = 0; i < 64 && sourceA === undefined; i++) {
  const candidate = await run(Actor.spawn(Source, { id: `source-worker-${i}`, backend: Workers }))
  if (ActorRef.location(candidate) !== ActorRef.location(sinkB)) sourceA = candidate
}
if (sourceA === undefined) throw new Error("could not place the Source and the Sink on different workers")
const sinkChild = await run(Actor.spawn(Sink, { id: "sink-child", backend: Subprocess }))
const sinkLocal = await run(Actor.spawn(Sink, { id: "sink-local" }))
console.log(
  `placement: Source on ${ActorRef.location(sourceA)}, Sink on ${ActorRef.location(sinkB)}; ` +
    `Sink on ${ActorRef.location(sinkChild)}; Sink ${ActorRef.location(sinkLocal)}`
)

// ------------------------------------------------------------------ channel workloads

const toB = await Effect.runPromise(sinkB.open({ capacity: inboxCapacity }))
const toChild = await Effect.runPromise(sinkChild.open({ capacity: inboxCapacity }))
const toLocal = await Effect.runPromise(sinkLocal.open({ capacity: inboxCapacity }))

/** A channel block: the sink's take starts, `send(from, n)` sends, the sink answers the last seq. */
const channelWorkload = (
  sink: ActorRef.ActorRef<typeof Sink>,
  send: (from: number, n: number) => Effect.Effect<unknown, unknown, any>
): Workload => {
  let next = 0
  return (n) =>
    run(
      Effect.gen(function* () {
        const from = next
        next += n
        const taking = yield* Effect.forkChild(sink.take({ n }), { startImmediately: true })
        yield* send(from, n)
        expectEqual("last seq taken, in order", yield* Fiber.join(taking), from + n - 1)
      }).pipe(bounded)
    )
}

const fromMain = (to: Channel.Endpoint<typeof Message.Type>) => (from: number, n: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < n; i++) yield* Channel.send(to, { seq: from + i })
  })

const workerToWorker = channelWorkload(sinkB, (from, n) => sourceA!.send({ to: toB, n, from }))
const mainToChild = channelWorkload(sinkChild, fromMain(toChild))
const mainToLocal = channelWorkload(sinkLocal, fromMain(toLocal))

// the baseline: a bounded Queue between two fibers, one offer and one take per message
const queue = await Effect.runPromise(Queue.bounded<typeof Message.Type>(inboxCapacity))
let queueNext = 0
const queueWorkload: Workload = (n) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const from = queueNext
      queueNext += n
      const taking = yield* Effect.forkChild(
        Effect.gen(function* () {
          let last = from - 1
          for (let i = 0; i < n; i++) {
            const m = yield* Queue.take(queue)
            if (m.seq !== last + 1) return -1
            last = m.seq
          }
          return last
        }),
        { startImmediately: true }
      )
      for (let i = 0; i < n; i++) yield* Queue.offer(queue, { seq: from + i })
      expectEqual("Queue: last seq taken, in order", yield* Fiber.join(taking), from + n - 1)
    })
  )

// ------------------------------------------------------------------ topic workloads

const perNode = [334, 333, 333]
const subscribersLocal = await run(Actor.spawn(Subscribers, { id: "subscribers-local" }))
const subscribersWorker = await run(Actor.spawn(Subscribers, { id: "subscribers-worker", backend: Workers }))
const subscribersChild = await run(Actor.spawn(Subscribers, { id: "subscribers-child", backend: Subprocess }))
const subscriberActors = [subscribersLocal, subscribersWorker, subscribersChild]
for (let i = 0; i < subscriberActors.length; i++) {
  expectEqual(
    "subscribers started",
    await Effect.runPromise(subscriberActors[i]!.start({ count: perNode[i]!, capacity: subscriberCapacity })),
    perNode[i]
  )
}
console.log(
  `topic subscribers: ${perNode.map((k, i) => `${k} on ${ActorRef.location(subscriberActors[i]!)}`).join(", ")}`
)

let tickNext = 0
const deliveredBefore = perNode.map(() => 0)
/** n deliveries = n / 1000 publications, published one by one from the main program. */
const topicWorkload: Workload = (n) =>
  run(
    Effect.gen(function* () {
      const publications = n / subscriberCount
      const from = tickNext
      tickNext += publications
      for (let s = from; s < tickNext; s++) yield* Topic.publish(Ticks, { seq: s })
      const progress = yield* bounded(
        Effect.all(
          subscriberActors.map((a) => a.until({ seq: tickNext - 1 })),
          { concurrency: "unbounded" }
        )
      )
      progress.forEach((p, i) => {
        expectEqual("topic: publications out of order or missing", p.errors, 0)
        expectEqual("topic: subscribers that got the last publication", p.reached, perNode[i])
        expectEqual("topic: deliveries on one node", p.deliveries - deliveredBefore[i]!, publications * perNode[i]!)
        deliveredBefore[i] = p.deliveries
      })
    })
  )

/**
 * The baseline: one PubSub, 1000 subscriber fibers in this process. "takeAll": each fiber loops on
 * `PubSub.takeAll` (the raw way); "stream": each runs `Stream.fromSubscription` with `Stream.runForEach`,
 * as the Troupe subscribers run the Stream that `Topic.subscribe` gives them.
 */
const pubsubBaseline = async (consume: "takeAll" | "stream") => {
  const hub = await Effect.runPromise(PubSub.bounded<typeof Message.Type>(subscriberCapacity))
  const scope = Effect.runSync(Scope.make())
  const tracker = new SequenceTracker()
  await Effect.runPromise(
    Effect.gen(function* () {
      for (let k = 0; k < subscriberCount; k++) {
        const i = tracker.addSubscriber()
        const subscription = yield* PubSub.subscribe(hub)
        const fiber =
          consume === "takeAll"
            ? Effect.forever(
                Effect.map(PubSub.takeAll(subscription), (ms) => {
                  for (const m of ms) tracker.received(i, m.seq)
                })
              )
            : Stream.runForEach(Stream.fromSubscription(subscription), (m) =>
                Effect.sync(() => tracker.received(i, m.seq))
              )
        yield* Effect.forkIn(fiber, scope)
      }
    }).pipe(Scope.provide(scope))
  )
  let next = 0
  const workload: Workload = (n) =>
    Effect.runPromise(
      Effect.gen(function* () {
        const publications = n / subscriberCount
        const from = next
        next += publications
        const before = tracker.deliveries
        for (let s = from; s < next; s++) yield* PubSub.publish(hub, { seq: s })
        const progress = yield* tracker.until(next - 1)
        expectEqual("PubSub: publications out of order or missing", progress.errors, 0)
        expectEqual("PubSub: deliveries", progress.deliveries - before, publications * subscriberCount)
      })
    )
  return { workload, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}
const pubsubTakeAll = await pubsubBaseline("takeAll")
const pubsubStream = await pubsubBaseline("stream")

// ------------------------------------------------------------------ measure

const channelSystems: ReadonlyArray<readonly [string, Workload]> = [
  ["Troupe channel, worker → worker", workerToWorker],
  ["Troupe channel, main → child", mainToChild],
  ["Troupe channel, main → in-process actor", mainToLocal],
  [`Effect Queue.bounded(${inboxCapacity}), fiber → fiber`, queueWorkload]
]
const queueName = channelSystems[3]![0]
const topicSystems: ReadonlyArray<readonly [string, Workload]> = [
  [`Troupe topic, ${subscriberCount} subscribers on 3 nodes`, topicWorkload],
  [`Effect PubSub.bounded(${subscriberCapacity}), ${subscriberCount} fibers on takeAll`, pubsubTakeAll.workload],
  [`Effect PubSub.bounded(${subscriberCapacity}), ${subscriberCount} fibers on a Stream`, pubsubStream.workload]
]
const pubsubName = topicSystems[1]![0]

// every workload runs before any is measured (see warmUpAll in lib/harness.ts)
await warmUpAll(
  channelSystems.map(([, w]) => w),
  2048
)
await warmUpAll(
  topicSystems.map(([, w]) => w),
  64 * subscriberCount
)

section("channel messages")
const channels = await measureInterleaved(channelSystems, { blockMs: 150, rounds: 9, startOps: 256 })
printTable("channel messages, one sender to one inbox, interleaved, median of 9 blocks", channels, {
  unit: "messages/s",
  ratios: [{ baseline: queueName, label: "÷ Queue" }]
})

section("topic fan-out")
const topics = await measureInterleaved(topicSystems, {
  blockMs: 200,
  rounds: 9,
  multipleOf: subscriberCount,
  startOps: 16 * subscriberCount,
  maxOps: 50_000_000
})
printTable(`topic fan-out, one publisher, ${subscriberCount} subscribers, interleaved, median of 9 blocks`, topics, {
  unit: "deliveries/s",
  ratios: [
    { baseline: pubsubName, label: "÷ PubSub (takeAll)" },
    { baseline: topicSystems[2]![0], label: "÷ PubSub (Stream)" }
  ]
})

// no bars: the issue sets none. The ratios to the in-process baselines, one line each
const pubsubStreamName = topicSystems[2]![0]
const ratioLines: Array<readonly [string, number]> = [
  ...channels
    .filter((r) => r.name !== queueName)
    .map((r) => [`${r.name} ÷ ${queueName}`, r.perSec / pick(channels, queueName).perSec] as const),
  ...[pubsubName, pubsubStreamName].map(
    (base) =>
      [
        `${topicSystems[0]![0]} ÷ ${base}`,
        pick(topics, topicSystems[0]![0]).perSec / pick(topics, base).perSec
      ] as const
  )
]
console.log("")
for (const [label, ratio] of ratioLines) console.log(`ratio: ${label} = ${formatRatio(ratio)}`)
const troupeTopic = pick(topics, topicSystems[0]![0])
console.log(
  `info: Troupe topic: ${formatRate(troupeTopic.perSec / subscriberCount)} publications/s, each to ${subscriberCount} subscribers`
)
recordExtra({ ratios: Object.fromEntries(ratioLines) })

// ------------------------------------------------------------------ teardown

await pubsubTakeAll.close()
await pubsubStream.close()
await runtime.dispose()
