/**
 * troupe/cluster: protocols hosted as effect/cluster entities, their existing behaviours as the
 * handlers. First on TestRunner (one process, in memory): calls, errors, casts, streams, a plain
 * class, state per entity id, ActorContext, one message at a time, the entity's Scope. Then over real
 * TCP: two runners on 127.0.0.1 sharing their storage, a call from one reaching the entity on the other.
 */
import { NodeClusterSocket } from "@effect/platform-node"
import { assert, describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Latch, Layer, Option, Queue, Ref, References, Stream } from "effect"
import {
  type ClusterError,
  MessageStorage,
  RunnerAddress,
  RunnerStorage,
  Sharding,
  ShardingConfig,
  TestRunner
} from "effect/cluster"
import { createServer, type Server } from "node:net"
import { Actor, type ActorError, type ActorRef } from "troupe"
import * as Cluster from "troupe/cluster"
import { Calculator, CalculatorLive, type DivideByZero } from "./fixtures/calculator.ts"
import { Doorman, DoormanLive, Probe, Tally, TallyLive, Turnstile, TurnstileLive } from "./fixtures/cluster-actors.ts"

const CalculatorEntity = Cluster.toEntity(Calculator)
const TurnstileEntity = Cluster.toEntity(Turnstile)
const TallyEntity = Cluster.toEntity(Tally)
const DoormanEntity = Cluster.toEntity(Doorman)

/** The protocols hosted on one in-memory runner; Probe comes from outside, so a test can outlive it. */
const Hosted = Layer.mergeAll(
  Cluster.toLayer(Calculator).pipe(Layer.provide(CalculatorLive)),
  Cluster.toLayer(Turnstile, { rebuildAfter: 0 }).pipe(Layer.provide(TurnstileLive)),
  Cluster.toLayer(Tally).pipe(Layer.provide(TallyLive)),
  Cluster.toLayer(Doorman).pipe(Layer.provide(DoormanLive))
).pipe(Layer.provideMerge(TestRunner.layer))

const InMemory = Hosted.pipe(Layer.provideMerge(Probe.layer))

/**
 * Hold 1 takes the entity; hold 2 is delivered behind it (a `discard` call answers once the entity
 * has the message). A concurrent `look` then sees hold 1 running and hold 2 not started; hold 2 starts
 * once hold 1 ends. Every wait is on a gate or a queue, none on time.
 */
const oneAtATime = (entity: {
  readonly hold: (n: number, discard: boolean) => Effect.Effect<unknown, unknown>
  readonly look: Effect.Effect<ReadonlyArray<string>, unknown>
  readonly peek: Effect.Effect<ReadonlyArray<string>, unknown>
}) =>
  Effect.flatMap(Effect.service(Probe), (probe) =>
    Effect.gen(function* () {
      const first = yield* Effect.forkChild(entity.hold(1, false))
      expect(yield* Queue.take(probe.started)).toBe(1)
      yield* entity.hold(2, true)
      expect(yield* entity.look).toEqual(["start 1"])
      yield* Latch.open(probe.gate(1))
      expect(yield* Fiber.join(first)).toBe(1)
      expect(yield* Queue.take(probe.started)).toBe(2)
      yield* Latch.open(probe.gate(2))
      expect(yield* entity.peek).toEqual(["start 1", "end 1", "start 2", "end 2"])
    }).pipe(
      // a failed check must not leave a handler waiting on a gate while the runner shuts down
      Effect.ensuring(Effect.all([Latch.open(probe.gate(1)), Latch.open(probe.gate(2))]))
    )
  )

describe("Cluster on TestRunner", () => {
  it.live("calls, the declared error, a defect, a cast and a stream reach the entity client typed", () =>
    Effect.gen(function* () {
      const calc = (yield* CalculatorEntity.client)("calc-1")
      expect(yield* calc.add({ a: 1, b: 2 })).toBe(3)
      const declared = yield* Effect.flip(calc.divide({ a: 7, b: 0 }))
      assert(declared._tag === "DivideByZero")
      expect(declared.dividend).toBe(7)
      const defect = yield* Effect.flip(calc.crash({ message: "boom" }))
      assert(defect._tag === "ActorError")
      assert(defect.reason._tag === "Defect")
      expect(defect.reason.message).toBe("boom")
      expect(defect.reason.actorId).toBe("calc-1")
      yield* calc.record({ entry: "by cluster" })
      // the defect did not restart the entity: its state is still there
      expect(yield* calc.history()).toEqual(["1 + 2", "by cluster"])
      expect(yield* Stream.runCollect(calc.countdown({ from: 3 }))).toEqual([3, 2, 1, 0])
      expect(yield* Stream.runCollect(Stream.take(calc.countdown({ from: 1_000_000 }), 2))).toEqual([
        1_000_000, 999_999
      ])
      yield* calc.reset()
      expect(yield* calc.history()).toEqual([])
    }).pipe(Effect.provide(InMemory))
  )

  it.live("a stream runs beside the entity's messages, as in Troupe", () =>
    Effect.gen(function* () {
      const calc = (yield* CalculatorEntity.client)("calc-stream")
      const queue = yield* calc.countdown({ from: 1_000_000 }, { asQueue: true })
      expect(yield* Queue.take(queue)).toBe(1_000_000)
      // the stream is still open, held back by the client; the entity answers a call all the same (the
      // bound makes a stream that held the entity fail this test rather than hang it)
      expect(yield* calc.add({ a: 1, b: 1 }).pipe(Effect.timeout("10 seconds"))).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(InMemory))
  )

  it.live("each entity id has its own instance of the behaviour", () =>
    Effect.gen(function* () {
      const client = yield* CalculatorEntity.client
      yield* client("a").add({ a: 1, b: 1 })
      yield* client("b").add({ a: 2, b: 2 })
      yield* client("a").record({ entry: "only a" })
      expect(yield* client("a").history()).toEqual(["1 + 1", "only a"])
      expect(yield* client("b").history()).toEqual(["2 + 2"])
    }).pipe(Effect.provide(InMemory))
  )

  it.live("a plain class: values, Promises, a throw and a rejection (Defects), streams from iterables", () =>
    Effect.gen(function* () {
      const tally = (yield* TallyEntity.client)("tally")
      expect(yield* tally.add({ n: 2 })).toBe(2)
      expect(yield* tally.add({ n: 3 })).toBe(5)
      expect(yield* tally.total()).toBe(5)
      const thrown = yield* Effect.flip(tally.explode())
      assert(thrown._tag === "ActorError" && thrown.reason._tag === "Defect")
      expect(thrown.reason.message).toBe("thrown by the class")
      const rejected = yield* Effect.flip(tally.reject())
      assert(rejected._tag === "ActorError" && rejected.reason._tag === "Defect")
      expect(rejected.reason.message).toBe("rejected by the class")
      expect(yield* Stream.runCollect(tally.upTo({ n: 3 }))).toEqual([1, 2, 3])
      expect(yield* Stream.runCollect(tally.digits())).toEqual(["5"])
      expect(yield* tally.total()).toBe(5)
    }).pipe(Effect.provide(InMemory))
  )

  it.live("ActorContext: its id is the entity id, and self reaches the entity through the cluster", () =>
    Effect.gen(function* () {
      const turnstile = (yield* TurnstileEntity.client)("t-1")
      expect(yield* turnstile.whoAmI()).toBe("t-1")
      // the cast to self is in the entity's mailbox before noteViaSelf answers, so before peek
      yield* turnstile.noteViaSelf({ entry: "hello" })
      expect(yield* turnstile.peek()).toEqual(["t-1: hello"])
    }).pipe(Effect.provide(InMemory))
  )

  it.live("ActorContext.stop is a Defect: the cluster passivates entities itself", () =>
    Effect.gen(function* () {
      const turnstile = (yield* TurnstileEntity.client)("t-stop")
      const error = yield* Effect.flip(turnstile.stopMe())
      assert(error._tag === "ActorError" && error.reason._tag === "Defect")
      expect(error.reason.message).toContain("ActorContext.stop")
      expect(yield* turnstile.whoAmI()).toBe("t-stop")
    }).pipe(Effect.provide(InMemory))
  )

  it.live("a behaviour that fails to build answers SpawnFailed", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip((yield* TurnstileEntity.client)("unbuildable").whoAmI())
      assert(error._tag === "ActorError" && error.reason._tag === "SpawnFailed")
      expect(error.reason.message).toContain("this id cannot be built")
    }).pipe(Effect.provide(InMemory))
  )

  it.live("a build that failed is tried again by a later message, and the entity then works", () =>
    Effect.gen(function* () {
      const late = (yield* TurnstileEntity.client)("late-1")
      for (const tries of [1, 2]) {
        const error = yield* Effect.flip(late.whoAmI())
        assert(error._tag === "ActorError" && error.reason._tag === "SpawnFailed")
        expect(error.reason.message).toContain(`not ready yet (try ${tries})`)
      }
      expect(yield* late.whoAmI()).toBe("late-1")
    }).pipe(Effect.provide(InMemory))
  )

  it.live("a caller leaving a slow build neither stops it nor leaks it; its failure then holds rebuilds off", () =>
    Effect.gen(function* () {
      const probe = yield* Effect.service(Probe)
      const slow = (yield* TurnstileEntity.client)("slow-1")
      const caller = yield* Effect.forkChild(slow.whoAmI())
      expect(yield* Queue.take(probe.started)).toBe(100)
      yield* Fiber.interrupt(caller)
      // a second caller waits for the same build rather than starting another
      const second = yield* Effect.forkChild(Effect.flip(slow.whoAmI()))
      yield* Latch.open(probe.gate(100))
      const error = yield* Fiber.join(second)
      assert(error._tag === "ActorError" && error.reason._tag === "SpawnFailed")
      // within rebuildAfter (an hour here) a message gets the failure, with no new build
      const again = yield* Effect.flip(slow.whoAmI())
      assert(again._tag === "ActorError" && again.reason._tag === "SpawnFailed")
      expect((yield* Ref.get(probe.log)).filter((l) => l.endsWith("slow-1"))).toEqual([
        "acquired slow-1",
        "released slow-1"
      ])
    }).pipe(
      Effect.provide(
        Cluster.toLayer(Turnstile, { rebuildAfter: "1 hour" }).pipe(
          Layer.provide(TurnstileLive),
          Layer.provideMerge(TestRunner.layer),
          Layer.provideMerge(Probe.layer)
        )
      )
    )
  )

  it.live("one message at a time per entity; a concurrent method runs beside them (Effect behaviour)", () =>
    Effect.gen(function* () {
      const turnstile = (yield* TurnstileEntity.client)("t-seq")
      yield* oneAtATime({
        hold: (n, discard) => turnstile.hold({ n }, { discard }),
        look: turnstile.look(),
        peek: turnstile.peek()
      })
    }).pipe(Effect.provide(InMemory))
  )

  it.live("one message at a time per entity: a plain class's async method starts when its turn comes", () =>
    Effect.gen(function* () {
      const doorman = (yield* DoormanEntity.client)("d-seq")
      yield* oneAtATime({
        hold: (n, discard) => doorman.hold({ n }, { discard }),
        look: doorman.look(),
        peek: doorman.peek()
      })
    }).pipe(Effect.provide(InMemory))
  )

  it.live("the entity's Scope closes with the runner: the behaviour's finalizers run", () =>
    Effect.gen(function* () {
      const probe = yield* Probe
      yield* Effect.gen(function* () {
        expect(yield* (yield* TurnstileEntity.client)("t-fin").whoAmI()).toBe("t-fin")
      }).pipe(Effect.provide(Hosted))
      expect(yield* Ref.get(probe.log)).toEqual(["finalized t-fin"])
    }).pipe(Effect.provide(Probe.layer))
  )

  it.live("Cluster.ref: an ActorRef through the cluster; stop is refused, typed; watch is a defect", () =>
    Effect.gen(function* () {
      const calc = yield* Cluster.ref(Calculator, "calc-ref")
      expect(calc.id).toBe("calc-ref")
      expect(yield* calc.add({ a: 20, b: 22 })).toBe(42)
      const declared = yield* Effect.flip(calc.divide({ a: 1, b: 0 }))
      assert(declared._tag === "DivideByZero")
      yield* calc.record({ entry: "cast" })
      expect(yield* calc.history()).toEqual(["20 + 22", "cast"])
      expect(yield* Stream.runCollect(calc.countdown({ from: 2 }))).toEqual([2, 1, 0])
      const refused = yield* Effect.flip(Actor.stop(calc))
      assert(refused.reason._tag === "Defect")
      expect(refused.reason.name).toBe("Unsupported")
      // an entity never terminates in Troupe's sense: watching one is a defect, not a wait forever
      const watched = yield* Effect.exit(Actor.watch(calc))
      assert(Exit.isFailure(watched) && Cause.hasDies(watched.cause))
    }).pipe(Effect.provide(InMemory))
  )

  it("the entity is made once per protocol; its client's types come from the protocol", () => {
    expect(Cluster.toEntity(Calculator)).toBe(CalculatorEntity)
    expect(CalculatorEntity.type).toBe("Calculator")
    type Client = ReturnType<Effect.Success<typeof CalculatorEntity.client>>
    type ClusterErrors =
      | ClusterError.MailboxFull
      | ClusterError.AlreadyProcessingMessage
      | ClusterError.PersistenceError
      | ClusterError.EntityNotAssignedToRunner
    const types = (calc: Client) => {
      expectTypeOf(calc.divide({ a: 1, b: 2 })).toEqualTypeOf<
        Effect.Effect<number, DivideByZero | ActorError.ActorError | ClusterErrors>
      >()
      expectTypeOf(calc.history()).toEqualTypeOf<
        Effect.Effect<ReadonlyArray<string>, ActorError.ActorError | ClusterErrors>
      >()
      expectTypeOf(calc.countdown({ from: 1 })).toEqualTypeOf<
        Stream.Stream<number, ActorError.ActorError | ClusterErrors>
      >()
      // @ts-expect-error: the payload is the protocol's
      calc.add({ a: "1", b: 2 })
    }
    void types
    expectTypeOf(Cluster.ref(Calculator, "x")).toEqualTypeOf<
      Effect.Effect<ActorRef.ActorRef<typeof Calculator>, never, Sharding.Sharding>
    >()
  })
})

/** `count` distinct free ports on 127.0.0.1: all are bound at once, then released for the runners. */
const freePorts = (count: number): Effect.Effect<ReadonlyArray<number>> =>
  Effect.promise(async () => {
    const servers: Array<Server> = []
    try {
      for (let i = 0; i < count; i++) {
        const server = createServer()
        servers.push(server)
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject)
          server.listen(0, "127.0.0.1", resolve)
        })
      }
      return servers.map((s) => (s.address() as { port: number }).port)
    } finally {
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
    }
  })

/**
 * A runner listening on 127.0.0.1:port. The runner storage is shared, so runners see each other; only
 * a runner assigned the "default" shard group hosts entities (the in-memory RunnerStorage keeps one
 * runner's shard locks, so exactly one runner takes shards).
 */
const runner = (port: number, hostsShards: boolean) =>
  NodeClusterSocket.layer({
    storage: "byo",
    shardingConfig: {
      runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", port)),
      assignedShardGroups: hostsShards ? ["default"] : [],
      // how soon a runner learns of the other; calls sent before are retried by the cluster
      refreshAssignmentsInterval: "100 millis"
    }
  })

describe("Cluster over TCP", () => {
  it.live("two runners on 127.0.0.1: calls from one reach the entity hosted on the other", () =>
    Effect.gen(function* () {
      const [portA, portB] = yield* freePorts(2)
      const storage = yield* Layer.build(
        Layer.mergeAll(MessageStorage.layerMemory, RunnerStorage.layerMemory).pipe(
          Layer.provide(ShardingConfig.layer())
        )
      )
      // fresh: each runner gets its own socket server, client and sharding, and shares only the storage
      const b = yield* Layer.build(
        Layer.fresh(
          Cluster.toLayer(Calculator).pipe(Layer.provide(CalculatorLive), Layer.provideMerge(runner(portB!, true)))
        )
      ).pipe(Effect.provideContext(storage))
      const a = yield* Layer.build(Layer.fresh(runner(portA!, false))).pipe(Effect.provideContext(storage))

      const onA = <X, E>(effect: Effect.Effect<X, E, Sharding.Sharding>) => Effect.provideContext(effect, a)
      const calc = (yield* onA(CalculatorEntity.client))("over-tcp")
      expect(yield* onA(calc.add({ a: 1, b: 2 }))).toBe(3)
      const declared = yield* Effect.flip(onA(calc.divide({ a: 7, b: 0 })))
      assert(declared._tag === "DivideByZero")
      expect(declared.dividend).toBe(7)
      const defect = yield* Effect.flip(onA(calc.crash({ message: "boom over tcp" })))
      assert(defect._tag === "ActorError" && defect.reason._tag === "Defect")
      expect(defect.reason.message).toBe("boom over tcp")
      yield* onA(calc.record({ entry: "cast over tcp" }))
      expect(yield* onA(calc.history())).toEqual(["1 + 2", "cast over tcp"])
      expect(yield* Stream.runCollect(calc.countdown({ from: 2 })).pipe(onA)).toEqual([2, 1, 0])
      const ref = yield* onA(Cluster.ref(Calculator, "over-tcp"))
      expect(yield* onA(ref.add({ a: 40, b: 2 }))).toBe(42)

      // the entity lives on B; A, which hosts no shards, sent every message over its socket to B
      const count = (context: typeof a) =>
        Effect.flatMap(Sharding.Sharding, (s) => s.activeEntityCount).pipe(Effect.provideContext(context))
      expect(yield* count(b)).toBe(1)
      expect(yield* count(a)).toBe(0)
    }).pipe(Effect.provideService(References.MinimumLogLevel, "Warn"))
  )
})
