/**
 * A pool of nodes behind one Backend: N worker threads or N child processes, each reached through a
 * link. An actor id always maps to the same node (a hash of the id), so spawn, lookup and
 * get-or-spawn by id agree without asking every node.
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
import { type Context, Effect, Layer, type Scope } from "effect"
import { availableParallelism } from "node:os"
import * as ActorError from "../../ActorError.ts"
import { ActorSystem } from "../../ActorSystem.ts"
import type { Backend } from "../../Backend.ts"
import { Link } from "../../internal/wire/link.ts"
import { hash, overLinks } from "./backend.ts"

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
  /** Starts delivering batches; `broken` reports a malformed byte stream. */
  readonly listen: (receive: (bytes: Uint8Array) => void, broken: (why: string) => void) => void
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
}

let poolCounter = 0

/**
 * Frames per batch between the main thread and a node. With a second CPU to run the peer, batches of
 * 16 let both sides work at once (pipelined calls ~1.4x faster than one batch per tick); on one CPU
 * the extra messages only cost, so a tick's frames go as one batch. Figures: docs/benchmarks.md.
 */
export const batchLimit = (): number | undefined =>
  process.env.TROUPE_EXP_BATCH ? Number(process.env.TROUPE_EXP_BATCH) : availableParallelism() > 1 ? 16 : undefined

interface Member {
  readonly link: Link
  readonly handle: NodeHandle
}

const peerDied = (link: Link, why: string) =>
  ActorError.make(
    new ActorError.PeerDied({
      node: link.peer,
      message: `${link.peer} is gone (${why}) with requests in flight; their outcome is unknown`
    })
  )

/** Starts every node of the pool and waits for their handshakes; closing the scope stops them. */
export const make = (options: PoolOptions): Effect.Effect<PoolBackend, ActorError.ActorError, Scope.Scope> =>
  Effect.gen(function* () {
    const system = yield* ActorSystem
    const context = yield* Effect.context<never>()
    const pool = ++poolCounter

    const startMember = (index: number): Effect.Effect<Member, ActorError.ActorError, Scope.Scope> => {
      // the node's id extends this node's: frames for it (and for what it hosts) route down this link
      const nodeId = `${system.nodeId}/${options.label}-${pool}.${index}`
      const acquire = Effect.sync((): Member => {
        const handle = options.start(index, nodeId)
        const link = new Link(
          { write: handle.write, close: () => {} },
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
        handle.listen(
          (bytes) => link.receive(bytes),
          (why) => link.fail(ActorError.make(new ActorError.ProtocolError({ node: link.peer, message: why })))
        )
        handle.onExit((how) => link.fail(peerDied(link, how)))
        link.start()
        return { link, handle }
      })
      const release = ({ link, handle }: Member) =>
        Effect.callback<void>((resume) => {
          if (handle.exited) return resume(Effect.void)
          handle.onExit(() => resume(Effect.void))
          link.bye("the backend is closing", peerDied(link, "its backend was closed"))
          const timer = setTimeout(handle.kill, options.stopTimeout)
          return Effect.sync(() => clearTimeout(timer))
        })
      return Effect.acquireRelease(acquire, release).pipe(
        Effect.tap(({ link }) =>
          link.whenOpen.pipe(
            Effect.timeoutOrElse({
              duration: options.startTimeout,
              orElse: () =>
                Effect.fail(
                  ActorError.make(
                    new ActorError.HostFailed({
                      node: nodeId,
                      message: `no handshake within ${options.startTimeout} ms`
                    })
                  )
                )
            })
          )
        )
      )
    }

    const members = yield* Effect.forEach(
      Array.from({ length: options.size }, (_, i) => i),
      startMember,
      { concurrency: "unbounded" }
    )

    const memberFor = (id: string): Member => members[hash(id) % members.length]!

    const backend: PoolBackend = {
      ...overLinks(options.label, (id) => memberFor(id).link),
      nodes: Effect.sync(() =>
        members.map(({ link, handle }): PoolNode => ({
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

/** Wraps `make` as a Layer for a backend's service key. */
export const layer = <I>(key: Context.Key<I, Backend>, options: PoolOptions): Layer.Layer<I, ActorError.ActorError> =>
  Layer.effect(key as Context.Key<I, PoolBackend>, make(options)) as Layer.Layer<I, ActorError.ActorError>
