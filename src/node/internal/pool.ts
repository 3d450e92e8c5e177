/**
 * A pool of nodes behind one Backend: N worker threads or N child processes, each reached through a
 * link. An actor id always maps to the same node (a hash of the id, or n for a pool member `name#n`), so
 * spawn, lookup and get-or-spawn by id agree without asking every node.
 *
 * Why node's own worker_threads and child_process rather than effect/workers (measured during
 * development on the project's 2-core VM, 64 calls in flight to a worker): with one batch per tick both
 * transports reach ~430k calls/s, because the two threads take turns. Sending a batch every 16 frames
 * lets them overlap, and that is where effect/workers falls behind: its Worker forks a fiber per
 * received message and runs an Effect per send, so 16-frame batches dropped it to ~285k calls/s while
 * node's own port rose to ~600k. Its child-process mode rides Node's IPC channel, which moved
 * 8-in-flight 64-byte messages at ~94k/s against ~132k/s for a plain pipe. So nodes are started with
 * node's API and their lifecycle is wrapped in Effect here (acquireRelease: BYE, a grace period, then
 * terminate or SIGKILL). Benchmarks: docs/benchmarks.md; the decision: docs/architecture.md.
 */
import { Clock, Context, Effect, Exit, Fiber, Layer, Pull, Schedule, Scope } from "effect"
import { availableParallelism } from "node:os"
import * as ActorError from "../../ActorError.ts"
import * as ActorRef from "../../ActorRef.ts"
import { ActorSystem } from "../../ActorSystem.ts"
import type { Backend, SpawnOptions } from "../../Backend.ts"
import { Link } from "../../internal/wire/link.ts"
import type { Protocol } from "../../Protocol.ts"
import * as Supervision from "../../Supervision.ts"
import { hash, overLinks } from "./backend.ts"
import { hostHref } from "./entry.ts"

/** A node of a pool, as diagnostics and fault tests see it. */
export interface PoolNode {
  readonly id: string
  /** Process id (for a child process; a worker thread shares its parent's). */
  readonly pid: number | undefined
  /** False once the thread or process has exited. */
  readonly alive: boolean
  /** Kills the node at once (worker: terminate; child: SIGKILL), as a crash would. */
  readonly kill: Effect.Effect<void>
  /** Sends raw bytes to the node as one batch, bypassing the link: for fault and security tests. */
  readonly inject: (bytes: Uint8Array) => Effect.Effect<void>
}

/** A Backend made of a pool of nodes. */
export interface PoolBackend extends Backend {
  readonly nodes: Effect.Effect<ReadonlyArray<PoolNode>>
}

/** A started thread or process, seen through what the pool needs of it. */
export interface NodeHandle {
  readonly pid: number | undefined
  /** Sends one batch (the bytes are copied). */
  readonly write: (bytes: Uint8Array) => void
  /** The largest batch this side reads from the node; none for a worker's port. */
  readonly maxFrame?: number | undefined
  /**
   * Starts delivering batches; `broken` reports a malformed byte stream. A worker calls `paced` with
   * true while it finds its peer on this thread's CPU, and false when they run apart again.
   */
  readonly listen: (
    receive: (bytes: Uint8Array) => void,
    broken: (why: string) => void,
    paced: (shared: boolean) => void
  ) => void
  /** Called once when the node has exited, with how. */
  readonly onExit: (cb: (how: string) => void) => void
  readonly exited: boolean
  /** Ends the node at once. */
  readonly kill: () => void
}

export interface PoolOptions {
  /** "worker" or "child": the prefix of node ids. */
  readonly label: string
  readonly size: number
  /** How long a node may take to load its host module, in ms. */
  readonly startTimeout: number
  /** How long a node may take to stop gracefully when the pool closes, in ms. */
  readonly stopTimeout: number
  /** Starts node number `index` with the given node id. */
  readonly start: (index: number, nodeId: string) => NodeHandle
  /** Wire version to announce (tests only). */
  readonly version?: number | undefined
  /** What happens when a node dies: restarted per policy (or not), its actors respawned (or not). */
  readonly restart: Supervision.Supervision | false
  readonly respawn: boolean
}

let poolCounter = 0

/** Nodes come back after a crash: up to 3 restarts within 10 seconds, 50 ms to 2 s apart. */
export const defaultRestart: Supervision.Supervision = Supervision.restart({
  maxRestarts: 3,
  within: "10 seconds",
  backoff: { initial: "50 millis", max: "2 seconds" }
})

/**
 * Frames per batch on a link (to a worker, a child or over TCP). With a second CPU to run the peer,
 * batches of 16 let both sides work at once (pipelined calls ~1.4x faster to a worker, ~1.7x over
 * TCP, than one batch per tick); on one CPU the extra messages only cost, so a tick's frames go as one
 * batch. Figures: docs/benchmarks.md and docs/architecture.md.
 */
export const batchLimit = (): number | undefined => (availableParallelism() > 1 ? 16 : undefined)

interface Node {
  readonly link: Link
  readonly handle: NodeHandle
}

interface Spec {
  readonly protocol: Protocol.Any
  readonly options: SpawnOptions
}

/** One place in the pool: the node running there now, and what is needed to replace it. */
interface Slot {
  readonly index: number
  current: Node
  generation: number
  /** Actors to spawn again on a new node (only with `respawn`). */
  readonly specs: Map<string, Spec>
  restarts: Array<number>
  step: ((input: unknown) => Effect.Effect<unknown, unknown>) | undefined
  /** No more restarts: the policy gave up, or the pool is closing. */
  done: boolean
}

/** A member id of `Actor.spawnPool` ends in `#n` with n a decimal number of at most 9 digits. */
const memberIndex = /#(\d{1,9})$/

const peerDied = (link: Link, why: string) =>
  ActorError.make(
    new ActorError.PeerDied({
      node: link.peer,
      message: `${link.peer} is gone (${why}): for a request in flight then, the outcome is unknown`
    })
  )

/**
 * Starts every node of the pool and waits for their handshakes. A node that dies is started again per
 * the restart policy (a new node id, `~1`, `~2`...: refs to the old one's actors fail with PeerDied),
 * its actors respawned if asked. Closing the scope stops every node.
 */
export const make = (options: PoolOptions): Effect.Effect<PoolBackend, ActorError.ActorError, Scope.Scope> =>
  Effect.gen(function* () {
    const system = yield* ActorSystem
    const context = yield* Effect.context<never>()
    const scope = yield* Effect.scope
    const runFork = Effect.runForkWith(context)
    const pool = ++poolCounter
    let closing = false
    const slots: Array<Slot> = []
    // restarts under way, interrupted if the pool closes meanwhile (a backoff must not outlive it)
    const restarting = new Set<Fiber.Fiber<void>>()
    // only the slot's current node restarts it when it dies: a replacement is not current until it is open
    const restartLater = (slot: Slot) => (dead: Node) => {
      if (slot.current !== dead) return
      const fiber = runFork(replace(slot))
      restarting.add(fiber)
      fiber.addObserver(() => restarting.delete(fiber))
    }

    const nodeIdOf = (index: number, generation: number) =>
      // the node's id extends this node's: frames for it (and for what it hosts) route down its link
      `${system.nodeId}/${options.label}-${pool}.${index}${generation > 0 ? `~${generation}` : ""}`

    /** Starts one node; `onDeath` hears if it dies unasked. */
    const startNode = (nodeId: string, index: number, onDeath: (node: Node) => void): Node => {
      const handle = options.start(index, nodeId)
      const link = new Link(
        { write: handle.write, close: () => {}, maxFrame: handle.maxFrame },
        {
          peerLabel: nodeId,
          host: { system, behaviours: new Map(), context },
          version: options.version,
          batchLimit: batchLimit(),
          // a node that broke the protocol is of no further use: end it rather than leave it running
          onClose: (error) => {
            if (error.reason._tag === "ProtocolError" || error.reason._tag === "VersionMismatch") handle.kill()
          }
        }
      )
      const node: Node = { link, handle }
      handle.listen(
        (bytes) => link.receive(bytes),
        (why) => link.fail(ActorError.make(new ActorError.ProtocolError({ node: link.peer, message: why }))),
        (shared) => link.sharesCpu(shared)
      )
      handle.onExit((how) => {
        // before its handshake a node has nothing in flight: it failed to start, which is the host's failure
        link.fail(
          link.status === "connecting"
            ? ActorError.make(
                new ActorError.HostFailed({ node: nodeId, message: `${nodeId} ${how} before its handshake` })
              )
            : peerDied(link, how)
        )
        // one that never started is not a death to restart from: whoever waits for its handshake
        // (the Layer, or the restart that started it) hears of it and decides
        if (!closing && link.opened) onDeath(node)
      })
      link.start()
      return node
    }

    const opened = (node: Node, nodeId: string) =>
      node.link.whenOpen.pipe(
        Effect.timeoutOrElse({
          duration: options.startTimeout,
          orElse: () =>
            Effect.fail(
              ActorError.make(
                new ActorError.HostFailed({ node: nodeId, message: `no handshake within ${options.startTimeout} ms` })
              )
            )
        })
      )

    const stopNode = ({ link, handle }: Node) =>
      Effect.callback<void>((resume) => {
        if (handle.exited) return resume(Effect.void)
        const timer = setTimeout(handle.kill, options.stopTimeout)
        handle.onExit(() => {
          clearTimeout(timer)
          resume(Effect.void)
        })
        link.bye("the backend is closing", peerDied(link, "its backend was closed"))
        return Effect.sync(() => clearTimeout(timer))
      })

    /** Counts a restart against the policy; false when the policy gives up. */
    const mayRestart = (slot: Slot, policy: Extract<Supervision.Supervision, { _tag: "Restart" }>) => {
      const now = Context_currentTime(context)
      slot.restarts = slot.restarts.filter((t) => now - t < policy.withinMillis)
      if (slot.restarts.length === 0) slot.step = undefined
      slot.restarts.push(now)
      return slot.restarts.length <= policy.maxRestarts
    }

    /** A node died: wait the backoff, start another in its place, respawn its actors. */
    const replace = (slot: Slot): Effect.Effect<void> =>
      Effect.gen(function* () {
        const policy = options.restart
        if (policy === false || policy._tag !== "Restart" || slot.done) return
        if (!mayRestart(slot, policy)) {
          slot.done = true
          return yield* Effect.logWarning(`troupe: ${slot.current.link.peer} died too often; not restarting it`)
        }
        if (slot.step === undefined) slot.step = yield* Schedule.toStepWithSleep(Supervision.scheduleOf(policy))
        const waited = yield* Effect.exit(slot.step(undefined))
        if (Exit.isFailure(waited) && Pull.isDoneCause(waited.cause)) {
          slot.done = true
          return
        }
        if (closing) return
        slot.generation++
        const nodeId = nodeIdOf(slot.index, slot.generation)
        const node = startNode(nodeId, slot.index, restartLater(slot))
        // a pool that closes while the replacement starts must not leave it running
        const open = yield* Effect.exit(
          opened(node, nodeId).pipe(Effect.onInterrupt(() => Effect.sync(node.handle.kill)))
        )
        if (Exit.isFailure(open) || node.link.status !== "open") {
          // closed first: a handshake still on its way (a child's pipe is read after the kill) is dropped
          node.link.fail(
            ActorError.make(new ActorError.HostFailed({ node: nodeId, message: `${nodeId} did not start` }))
          )
          node.handle.kill()
          return yield* replace(slot)
        }
        if (closing) return yield* stopNode(node)
        slot.current = node
        if (options.respawn) {
          for (const [id, spec] of slot.specs) {
            const exit = yield* Effect.exit(node.link.spawn(spec.protocol, spec.options, true))
            if (Exit.isSuccess(exit)) follow(slot, node.link, spec, exit.value)
            // the node died meanwhile: the rest are for the node that replaces it, not failures of their own
            else if (node.link.status !== "open") break
            else slot.specs.delete(id)
          }
        }
      })

    /** Remembers an actor for respawning until it ends by itself (a node's death does not count). */
    const follow = (slot: Slot, link: Link, spec: Spec, ref: { readonly id: string }) => {
      slot.specs.set(spec.options.id, spec)
      const incarnation = (ActorRef.endpoint(ref as ActorRef.ActorRef<any>) as unknown as { incarnation: number })
        .incarnation
      runFork(
        Effect.map(link.watch(spec.options.id, incarnation), (ended) => {
          if (ended._tag !== "NodeDown" && slot.specs.get(spec.options.id) === spec) slot.specs.delete(spec.options.id)
        })
      )
    }

    // the first nodes: all must start, or the Layer fails (and stops those that did)
    for (let index = 0; index < options.size; index++) {
      const nodeId = nodeIdOf(index, 0)
      const slot: Slot = {
        index,
        current: undefined as unknown as Node,
        generation: 0,
        specs: new Map(),
        restarts: [],
        step: undefined,
        done: false
      }
      slot.current = startNode(nodeId, index, restartLater(slot))
      slots.push(slot)
    }
    yield* Scope.addFinalizer(
      scope,
      Effect.suspend(() => {
        closing = true
        for (const slot of slots) slot.done = true
        return Fiber.interruptAll(restarting).pipe(
          Effect.andThen(
            Effect.forEach(slots, (slot) => stopNode(slot.current), { concurrency: "unbounded", discard: true })
          )
        )
      })
    )
    yield* Effect.forEach(slots, (slot) => opened(slot.current, slot.current.link.peer), {
      concurrency: "unbounded",
      discard: true
    })

    // `name#n` is a pool member's id (Actor.spawnPool): member n goes to node n, so members spread evenly
    const slotFor = (id: string): Slot => {
      const member = memberIndex.exec(id)
      return slots[(member !== null ? Number(member[1]) : hash(id)) % slots.length]!
    }

    const backend: PoolBackend = {
      ...overLinks(
        options.label,
        (id) => slotFor(id).current.link,
        options.respawn
          ? (protocol, spawnOptions, link, ref) => {
              const slot = slotFor(spawnOptions.id)
              if (slot.current.link === link) follow(slot, link, { protocol, options: spawnOptions }, ref)
            }
          : undefined
      ),
      nodes: Effect.sync(() =>
        slots.map(({ current: { link, handle } }): PoolNode => ({
          id: link.peer,
          pid: handle.pid,
          get alive() {
            return !handle.exited
          },
          kill: Effect.sync(handle.kill),
          inject: (bytes) => Effect.sync(() => handle.write(bytes))
        }))
      )
    }
    return backend
  })

const Context_currentTime = (context: Context.Context<never>): number =>
  Context.get(context, Clock.Clock).currentTimeMillisUnsafe()

/** The options `Workers.layer` and `Subprocess.layer` share; each documents them for its own nodes. */
export interface NodeOptions {
  readonly host: URL | string
  readonly size?: number | undefined
  readonly startTimeout?: number | undefined
  readonly stopTimeout?: number | undefined
  readonly restart?: Supervision.Supervision | false | undefined
  readonly respawn?: boolean | undefined
  readonly wireVersion?: number | undefined
}

/**
 * A backend's Layer for its service key: a pool of `label` nodes, each started by `start` with its node
 * id and the host module's URL, and the shared options' defaults applied.
 */
export const layer = <I>(
  key: Context.Key<I, Backend>,
  label: string,
  options: NodeOptions,
  start: (nodeId: string, href: string) => NodeHandle
): Layer.Layer<I, ActorError.ActorError> => {
  const href = hostHref(options.host)
  const pool = make({
    label,
    size: options.size ?? 1,
    startTimeout: options.startTimeout ?? 30_000,
    stopTimeout: options.stopTimeout ?? 3_000,
    version: options.wireVersion,
    restart: options.restart ?? defaultRestart,
    respawn: options.respawn ?? false,
    start: (_index, nodeId) => start(nodeId, href)
  })
  return Layer.effect(key as Context.Key<I, PoolBackend>, pool) as Layer.Layer<I, ActorError.ActorError>
}
