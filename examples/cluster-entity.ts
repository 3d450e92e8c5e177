/**
 * Scaling out on effect/cluster: one Account protocol and one behaviour Layer, first as a Troupe actor,
 * then hosted unchanged as an effect/cluster Entity. Two cluster runners listen on 127.0.0.1 and share
 * their (in-memory) storage; runner B hosts the accounts, runner A hosts none, so each call A makes
 * crosses a TCP socket to B. With SQL storage, the runners would be separate processes or machines.
 * Run: npx tsx examples/cluster-entity.ts
 */
import { NodeClusterSocket } from "@effect/platform-node"
import { Effect, Layer, Option, Ref, References, Schema, Stream } from "effect"
import { MessageStorage, RunnerAddress, RunnerStorage, ShardingConfig } from "effect/cluster"
import { createServer } from "node:net"
import { Actor, ActorContext } from "troupe"
import * as Cluster from "troupe/cluster"
import { check, run } from "./support/check.ts"

class Overdrawn extends Schema.TaggedError<Overdrawn>()("Overdrawn", { balance: Schema.Number }) {}

const Account = Actor.make("Account", {
  deposit: { payload: { amount: Schema.Number }, success: Schema.Number },
  withdraw: { payload: { amount: Schema.Number }, success: Schema.Number, error: Overdrawn },
  owner: { success: Schema.String },
  statement: { stream: Schema.String }
})

// the behaviour: written once, for any Troupe backend and for the cluster alike
const AccountLive = Account.toLayer(
  Effect.gen(function* () {
    const { id } = yield* ActorContext
    const balance = yield* Ref.make(0)
    const lines = yield* Ref.make<ReadonlyArray<string>>([])
    const record = (line: string) => Ref.update(lines, (l) => [...l, line])
    return Account.of({
      deposit: ({ amount }) =>
        Ref.updateAndGet(balance, (b) => b + amount).pipe(Effect.tap(() => record(`+${amount}`))),
      withdraw: ({ amount }) =>
        Effect.gen(function* () {
          const current = yield* Ref.get(balance)
          if (amount > current) return yield* new Overdrawn({ balance: current })
          yield* record(`-${amount}`)
          return yield* Ref.updateAndGet(balance, (b) => b - amount)
        }),
      owner: () => Effect.succeed(id),
      statement: () => Stream.unwrap(Effect.map(Ref.get(lines), Stream.fromIterable))
    })
  })
)

/** Two free ports on 127.0.0.1, bound together (so they differ), then released for the runners. */
const freePorts = Effect.promise(async () => {
  const servers = [createServer(), createServer()]
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve))))
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports as [number, number]
})

const runner = (port: number, hostsAccounts: boolean) =>
  NodeClusterSocket.layer({
    storage: "byo",
    shardingConfig: {
      runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", port)),
      // runner A takes no shards: the accounts live on B
      assignedShardGroups: hostsAccounts ? ["default"] : [],
      refreshAssignmentsInterval: "100 millis"
    }
  })

const asActor = Effect.gen(function* () {
  const alice = yield* Actor.spawn(Account, { id: "alice" })
  yield* check("as a Troupe actor: deposit", yield* alice.deposit({ amount: 100 }), 100)
}).pipe(Effect.provide(AccountLive))

const onTheCluster = Effect.gen(function* () {
  const [portA, portB] = yield* freePorts
  console.log(`  runner A on 127.0.0.1:${portA}, runner B on 127.0.0.1:${portB}`)
  const storage = yield* Layer.build(
    Layer.mergeAll(MessageStorage.layerMemory, RunnerStorage.layerMemory).pipe(Layer.provide(ShardingConfig.layer()))
  )
  // runner B: the Account entity, its handlers the same AccountLive
  yield* Layer.build(
    Layer.fresh(Cluster.toLayer(Account).pipe(Layer.provide(AccountLive), Layer.provideMerge(runner(portB, true))))
  ).pipe(Effect.provideContext(storage))
  // runner A: calls the accounts through the cluster
  const onA = yield* Layer.build(Layer.fresh(runner(portA, false))).pipe(Effect.provideContext(storage))

  yield* Effect.gen(function* () {
    // the entity client: effect/cluster's own, typed from the protocol
    const accounts = yield* Cluster.toEntity(Account).client
    const bob = accounts("bob")
    yield* check("entity client: deposit", yield* bob.deposit({ amount: 50 }), 50)
    const overdrawn = yield* Effect.flip(bob.withdraw({ amount: 80 }))
    yield* check("the declared error, typed", overdrawn._tag === "Overdrawn" && overdrawn.balance, 50)
    yield* check("ActorContext.id is the entity id", yield* bob.owner(), "bob")
    yield* check("each id has its own state", yield* accounts("carol").deposit({ amount: 7 }), 7)

    // or an ActorRef, the same API as on any Troupe backend
    const carol = yield* Cluster.ref(Account, "carol")
    yield* check("Cluster.ref: withdraw", yield* carol.withdraw({ amount: 2 }), 5)
    yield* check("a stream over TCP", yield* Stream.runCollect(carol.statement()), ["+7", "-2"])
  }).pipe(Effect.provideContext(onA))
}).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Warn"))

run(Effect.andThen(asActor, onTheCluster))
