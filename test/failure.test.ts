/**
 * Failure across nodes: pools that restart dead nodes (and respawn their actors), death watch over the
 * wire, supervision of remote actors, TCP reconnects, a restarted server, heartbeats through a proxy
 * that blackholes traffic, remote timeouts, and a seeded chaos run. Real kills and real sockets; every
 * wait is bounded.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Redacted, Scope } from "effect"
import { Actor, ActorError, ActorRef, Supervision } from "troupe"
import { Remote, Subprocess, Workers, type PoolBackend } from "troupe/node"
import { Gate, Worker } from "./fixtures/spec-actors.ts"
import { Branch } from "./fixtures/tree-actors.ts"
import { reasonOf } from "./spec/behaviour.ts"
import { proxy } from "./support/proxy.ts"
import { fixture, serve } from "./support/serve.ts"
import { isRunning } from "./support/processes.ts"

const host = new URL("./fixtures/wire-host.ts", import.meta.url)
const secret = "failure tests"

const bounded = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die("the wait timed out") }))

/** Polls (bounded) until `check` succeeds: for state that changes in the background (a restart). */
const eventually = <A, E, R>(check: Effect.Effect<A, E, R>) =>
  bounded(
    Effect.gen(function* () {
      while (true) {
        const exit = yield* Effect.exit(check)
        if (Exit.isSuccess(exit)) return exit.value
        yield* Effect.sleep("10 millis")
      }
    })
  )

/** Restarts at once (1 ms backoff), up to 3 times. */
const quickRestarts = Supervision.restart({ maxRestarts: 3, backoff: { initial: "1 millis", jitter: false } })

let ids = 0
const fresh = (prefix: string) => `${prefix}-${++ids}`

const pools: ReadonlyArray<{
  readonly name: string
  readonly key: Actor.BackendKey
  readonly layer: (options: object) => Layer.Layer<any, ActorError.ActorError>
}> = [
  { name: "worker threads", key: Workers, layer: (o) => Workers.layer({ host, ...o }) },
  { name: "child processes", key: Subprocess, layer: (o) => Subprocess.layer({ host, ...o }) }
]

for (const pool of pools) {
  describe(`${pool.name}: nodes that die`, () => {
    it.live("are restarted; old refs fail with PeerDied, new spawns work, respawned actors are back", () =>
      Effect.gen(function* () {
        const backend = (yield* pool.key) as PoolBackend
        const [before] = yield* backend.nodes
        const kept = yield* Actor.spawn(Worker, { id: "kept", backend: pool.key })
        yield* kept.record({ entry: "state of the old node" })
        const watch = yield* Effect.forkChild(Actor.watch(kept), { startImmediately: true })
        yield* before!.kill
        const ended = yield* bounded(Fiber.join(watch))
        assert(ended._tag === "NodeDown")
        expect(reasonOf(yield* bounded(Effect.exit(kept.history())))).toBe("PeerDied")
        const [after] = yield* eventually(
          Effect.flatMap(backend.nodes, (nodes) =>
            nodes[0]!.alive && nodes[0]!.id !== before!.id ? Effect.succeed(nodes) : Effect.fail("not yet")
          )
        )
        expect(after!.id).toBe(`${before!.id}~1`)
        if (before!.pid !== undefined) expect(isRunning(before!.pid)).toBe(false)
        // the respawned actor: same id, fresh state
        const back = yield* eventually(Actor.lookup(Worker, "kept", { backend: pool.key }))
        expect(yield* back.history()).toEqual([])
        const fresh1 = yield* Actor.spawn(Worker, { id: fresh("new"), backend: pool.key })
        expect(yield* fresh1.add({ a: 1, b: 2 })).toBe(3)
      }).pipe(Effect.provide(pool.layer({ respawn: true })))
    )

    it.live("a replacement that dies while it respawns: the actors it had not reached come back on the next", () =>
      Effect.gen(function* () {
        const backend = (yield* pool.key) as PoolBackend
        const n = 300
        for (let i = 0; i < n; i++) yield* Actor.spawn(Worker, { id: `many-${i}`, backend: pool.key })
        const [first] = yield* backend.nodes
        yield* first!.kill
        // the replacement becomes the slot's node, then respawns the 300 one by one: kill it meanwhile
        const second = yield* bounded(
          Effect.gen(function* () {
            while (true) {
              const [node] = yield* backend.nodes
              if (node!.id === `${first!.id}~1`) return node!
              yield* Effect.sleep("1 millis")
            }
          })
        )
        yield* second.kill
        yield* eventually(
          Effect.flatMap(backend.nodes, ([node]) =>
            node!.alive && node!.id === `${first!.id}~2` ? Effect.void : Effect.fail("not yet")
          )
        )
        const back = yield* eventually(
          Effect.forEach(
            Array.from({ length: n }, (_, i) => `many-${i}`),
            (id) => Effect.flatMap(Actor.lookup(Worker, id, { backend: pool.key }), (ref) => ref.add({ a: 1, b: 1 }))
          )
        )
        expect(back.length).toBe(n)
      }).pipe(Effect.provide(pool.layer({ respawn: true })))
    )

    it.live("with restart: false, a dead node stays dead and its actors' calls fail typed", () =>
      Effect.gen(function* () {
        const backend = (yield* pool.key) as PoolBackend
        const [node] = yield* backend.nodes
        const calc = yield* Actor.spawn(Worker, { id: fresh("calc"), backend: pool.key })
        yield* node!.kill
        expect(
          reasonOf(yield* bounded(Effect.exit(Actor.watch(calc).pipe(Effect.andThen(calc.add({ a: 1, b: 1 }))))))
        ).toBe("PeerDied")
        expect(reasonOf(yield* Effect.exit(Actor.spawn(Worker, { id: fresh("later"), backend: pool.key })))).toBe(
          "PeerDied"
        )
        expect((yield* backend.nodes)[0]!.alive).toBe(false)
      }).pipe(Effect.provide(pool.layer({ restart: false })))
    )

    it.live("a child that fails for good fails its parent on that node, which restarts with a fresh child", () =>
      Effect.gen(function* () {
        const branch = yield* Actor.spawn(Branch, {
          id: fresh("branch"),
          backend: pool.key,
          supervision: quickRestarts
        })
        expect(yield* branch.builds()).toBe(1)
        yield* branch.crashLeaf() // the leaf gives up; its parent's policy restarts the parent
        expect(yield* eventually(Effect.filterOrFail(branch.builds(), (n) => n === 2))).toBe(2)
        expect(yield* branch.leafPing()).toBe("leaf")
        const strict = yield* Actor.spawn(Branch, {
          id: fresh("strict"),
          backend: pool.key,
          supervision: Supervision.stop
        })
        yield* strict.crashLeaf()
        const ended = yield* bounded(Actor.watch(strict))
        assert(ended._tag === "Failed")
        expect(ended.error.message).toContain("failed for good")
      }).pipe(Effect.provide(pool.layer({})))
    )

    it.live("supervision travels: a remote actor restarts with fresh state, or stops and says Failed", () =>
      Effect.gen(function* () {
        const restarting = yield* Actor.spawn(Worker, {
          id: fresh("restarting"),
          backend: pool.key,
          supervision: quickRestarts
        })
        yield* restarting.record({ entry: "before" })
        expect(reasonOf(yield* Effect.exit(restarting.crash({ message: "remote boom" })))).toBe("Defect")
        expect(yield* eventually(restarting.history())).toEqual([])
        const stopping = yield* Actor.spawn(Worker, {
          id: fresh("stopping"),
          backend: pool.key,
          supervision: Supervision.stop
        })
        yield* Effect.exit(stopping.crash({ message: "fatal" }))
        const ended = yield* bounded(Actor.watch(stopping))
        assert(ended._tag === "Failed")
        assert(ended.error.reason._tag === "Defect")
        expect(ended.error.reason.message).toBe("fatal")
        // a watch that arrives after the end still learns the reason
        const killed = yield* Actor.spawn(Worker, { id: fresh("killed"), backend: pool.key })
        yield* Actor.kill(killed)
        expect((yield* bounded(Actor.watch(killed)))._tag).toBe("Killed")
      }).pipe(Effect.provide(pool.layer({})))
    )

    it.live("a call timeout interrupts the remote handler", () =>
      Effect.gen(function* () {
        const calc = Actor.withTimeout(
          yield* Actor.spawn(Worker, { id: fresh("slow"), backend: pool.key }),
          "200 millis"
        )
        const gate = yield* Actor.spawn(Gate, { id: fresh("gate"), backend: pool.key })
        const error = yield* Effect.flip(calc.hold({ gate: "timeout", tag: "t" }))
        assert(error.reason._tag === "Timeout")
        expect(error.reason.method).toBe("hold")
        yield* bounded(gate.await({ name: "interrupted:timeout" }))
      }).pipe(Effect.provide(pool.layer({ size: 1 })))
    )
  })
}

describe("remote hosts: connections that drop, servers that restart, peers that go silent", () => {
  const client = (port: number, extra: object = {}) =>
    Remote.layer({ host: "127.0.0.1", port, secret: Redacted.make(secret), ...extra })

  it.live("a dropped connection reconnects in the same session: the same refs work again", () =>
    Effect.gen(function* () {
      const served = yield* serve([], fixture("wire-host.ts"), { TROUPE_SECRET: secret })
      const context = yield* Layer.build(client(served.port, { reconnect: { backoff: { initial: "10 millis" } } }))
      const remote = yield* Effect.provide(Remote.use(Effect.succeed), context)
      const calc = yield* Effect.provide(Actor.spawn(Worker, { id: "survivor", backend: Remote }), context)
      yield* calc.record({ entry: "kept across the reconnect" })
      expect(yield* calc.history()).toEqual(["kept across the reconnect"]) // the cast has arrived
      yield* remote.drop
      expect(reasonOf(yield* Effect.exit(calc.history()))).toBe("Disconnected")
      expect(yield* eventually(calc.history())).toEqual(["kept across the reconnect"])
      expect(remote.connected).toBe(true)
    })
  )

  it.live("a restarted server is a new node: old refs fail with NodeRestarted, new spawns work", () =>
    Effect.gen(function* () {
      const scopeA = yield* Scope.make()
      const a = yield* serve([], fixture("wire-host.ts"), { TROUPE_SECRET: secret }).pipe(Scope.provide(scopeA))
      const p = yield* proxy(a.port)
      const context = yield* Layer.build(client(p.port, { reconnect: { backoff: { initial: "10 millis" } } }))
      const old = yield* Effect.provide(Actor.spawn(Worker, { id: "calc", backend: Remote }), context)
      expect(yield* old.add({ a: 1, b: 1 })).toBe(2)
      a.process.kill("SIGKILL")
      yield* Scope.close(scopeA, Exit.void)
      const b = yield* serve([], fixture("wire-host.ts"), { TROUPE_SECRET: secret })
      p.retarget(b.port)
      const error = yield* eventually(
        Effect.flatMap(Effect.exit(old.add({ a: 1, b: 1 })), (exit) =>
          reasonOf(exit) === "NodeRestarted" ? Effect.succeed(exit) : Effect.fail("not yet")
        )
      )
      expect(reasonOf(error)).toBe("NodeRestarted")
      const renewed = yield* Effect.provide(Actor.spawn(Worker, { id: "calc", backend: Remote }), context)
      expect(yield* renewed.add({ a: 2, b: 2 })).toBe(4)
      expect(ActorRef.location(renewed)).not.toBe(ActorRef.location(old))
    })
  )

  it.live("heartbeats: a silent path (no FIN) is detected within the timeout; calls in flight fail typed", () =>
    Effect.gen(function* () {
      const served = yield* serve([], fixture("wire-host.ts"), { TROUPE_SECRET: secret })
      const p = yield* proxy(served.port)
      const context = yield* Layer.build(
        client(p.port, { heartbeat: { interval: 50, timeout: 400 }, reconnect: false })
      )
      const calc = yield* Effect.provide(Actor.spawn(Worker, { id: "calc", backend: Remote }), context)
      const gate = yield* Effect.provide(Actor.spawn(Gate, { id: "gate", backend: Remote }), context)
      const watch = yield* Effect.forkChild(Actor.watch(calc), { startImmediately: true })
      const call = yield* Effect.forkChild(calc.hold({ gate: "silent", tag: "x" }), { startImmediately: true })
      yield* bounded(gate.await({ name: "entered:silent" }))
      p.blackhole(true)
      const error = yield* bounded(Effect.flip(Fiber.join(call)))
      assert(ActorError.isActorError(error) && error.reason._tag === "Disconnected")
      expect(error.message).toContain("nothing heard")
      expect((yield* bounded(Fiber.join(watch)))._tag).toBe("NodeDown")
    })
  )

  it.live("the server notices a silent client too (--heartbeat-timeout) and keeps its actors for the TTL", () =>
    Effect.gen(function* () {
      const served = yield* serve(["--heartbeat-timeout", "300", "--session-ttl", "60000"], fixture("wire-host.ts"), {
        TROUPE_SECRET: secret
      })
      const p = yield* proxy(served.port)
      const context = yield* Layer.build(
        client(p.port, { heartbeat: false, reconnect: { backoff: { initial: "10 millis" } } })
      )
      const calc = yield* Effect.provide(Actor.spawn(Worker, { id: "calc", backend: Remote }), context)
      yield* calc.record({ entry: "before the silence" })
      expect(yield* calc.history()).toEqual(["before the silence"])
      p.blackhole(true)
      const remote = yield* Effect.provide(Remote.use(Effect.succeed), context)
      yield* eventually(Effect.suspend(() => (remote.connected ? Effect.fail("still connected") : Effect.void)))
      p.blackhole(false)
      expect(yield* eventually(calc.history())).toEqual(["before the silence"])
    })
  )
})

describe("chaos", () => {
  /** mulberry32 */
  const prng = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  it.live("random kills under load: every call and cast ends, typed; nothing is left behind", () =>
    Effect.gen(function* () {
      const random = prng(7_2026)
      const resourcesBefore = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap" && r !== "Timeout").length
      const scope = yield* Scope.make()
      const layer = Layer.merge(
        Workers.layer({ host, size: 2, respawn: true, restart: Supervision.restart({ maxRestarts: 1000 }) }),
        Subprocess.layer({ host, size: 2, respawn: true, restart: Supervision.restart({ maxRestarts: 1000 }) })
      )
      const context = yield* Layer.buildWithScope(layer, scope)
      const backends = [Workers, Subprocess] as const
      const pids = new Set<number>()
      const outcomes = { ok: 0, typed: 0, other: [] as Array<string> }
      const deadline = Date.now() + 3000

      const load = Effect.gen(function* () {
        while (Date.now() < deadline) {
          const backend = backends[Math.floor(random() * backends.length)]!
          const id = `chaos-${Math.floor(random() * 8)}`
          // now and then a burst of casts first, past the link's window and a small mailbox: casters
          // waiting for credit when the node dies must fail typed too
          const burst = random() < 0.3 ? 1500 : 0
          const exit = yield* Effect.exit(
            Actor.getOrSpawn(Worker, { id, backend, mailbox: { capacity: 16 } }).pipe(
              Effect.flatMap((ref) =>
                burst === 0
                  ? ref.add({ a: 1, b: 2 })
                  : Effect.andThen(
                      Effect.repeat(ref.record({ entry: "c" }), { times: burst - 1 }),
                      ref.add({ a: 1, b: 2 })
                    )
              ),
              // a safety net: a call that hangs fails the test below instead of the suite
              Actor.timeout("5 seconds")
            )
          )
          if (Exit.isSuccess(exit)) outcomes.ok++
          else if (reasonOf(exit) === "Timeout") outcomes.other.push("a call hung")
          else if (
            Exit.isFailure(exit) &&
            exit.cause.reasons.every((r) => r._tag === "Fail" && ActorError.isActorError(r.error))
          )
            outcomes.typed++
          else outcomes.other.push(String(exit))
        }
      }).pipe(Effect.provide(context))

      const killer = Effect.gen(function* () {
        while (Date.now() < deadline) {
          yield* Effect.sleep(`${50 + Math.floor(random() * 200)} millis`)
          const backend = backends[Math.floor(random() * backends.length)]!
          const nodes = yield* Effect.provide(
            (backend as typeof Workers).use((b) => b.nodes),
            context
          )
          const node = nodes[Math.floor(random() * nodes.length)]!
          if (node.pid !== undefined && node.pid !== process.pid) pids.add(node.pid)
          yield* node.kill
        }
      })

      yield* Effect.all([...Array.from({ length: 8 }, () => load), killer], { concurrency: "unbounded" })
      for (const backend of backends) {
        const nodes = yield* Effect.provide(
          (backend as typeof Workers).use((b) => b.nodes),
          context
        )
        for (const node of nodes) if (node.pid !== undefined && node.pid !== process.pid) pids.add(node.pid)
      }
      yield* Scope.close(scope, Exit.void)

      expect(outcomes.other).toEqual([])
      expect(outcomes.ok).toBeGreaterThan(0)
      expect(outcomes.typed).toBeGreaterThan(0)
      // processes killed in the last moments may still be exiting: give their exit events a bounded while
      yield* eventually(
        Effect.suspend(() => {
          const alive = [...pids].filter(isRunning)
          const resources = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap" && r !== "Timeout")
          return alive.length === 0 && resources.length <= resourcesBefore
            ? Effect.void
            : Effect.fail(`alive: ${alive.join(", ")}; resources: ${resources.join(", ")}`)
        })
      )
    })
  )
})
