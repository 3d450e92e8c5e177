/**
 * A pool of nodes behind one Backend: N worker threads or N child processes, each reached through a
 * link over effect/workers (postMessage or IPC). An actor id always maps to the same node (a hash of
 * the id), so spawn, lookup and get-or-spawn by id agree without asking every node.
 */
import { NodeWorker } from "@effect/platform-node"
import { Cause, Context, Effect, Exit, Layer, type Scope } from "effect"
import { Worker } from "effect/workers"
import * as ActorError from "../../ActorError.ts"
import type { ActorRef } from "../../ActorRef.ts"
import { ActorSystem } from "../../ActorSystem.ts"
import type { Backend, SpawnOptions } from "../../Backend.ts"
import { Link } from "../../internal/wire/link.ts"
import type { Protocol } from "../../Protocol.ts"
import type * as ChildProcess from "node:child_process"
import type * as WorkerThreads from "node:worker_threads"

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

export interface PoolOptions {
  /** "worker" or "child": the prefix of node ids. */
  readonly label: string
  readonly size: number
  /** How long a node may take to load its host module. */
  readonly startTimeout: number
  /** Starts node number `index` with the given node id. */
  readonly start: (index: number, nodeId: string) => WorkerThreads.Worker | ChildProcess.ChildProcess
  /** Wire version to announce (tests only). */
  readonly version?: number | undefined
}

const hash = (id: string): number => {
  let h = 2166136261
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 16777619)
  }
  return h >>> 0
}

let poolCounter = 0

interface Handle {
  current: WorkerThreads.Worker | ChildProcess.ChildProcess | undefined
  exited: boolean
}

interface Member {
  readonly link: Link
  readonly handle: Handle
  readonly send: (bytes: Uint8Array) => void
}

const kill = (handle: Handle): void => {
  const current = handle.current
  if (current === undefined || handle.exited) return
  if ("terminate" in current) void current.terminate()
  else current.kill("SIGKILL")
}

/** Starts every node of the pool and waits for their handshakes; their scope closes them. */
export const make = (options: PoolOptions): Effect.Effect<PoolBackend, ActorError.ActorError, Scope.Scope> =>
  Effect.gen(function* () {
    const system = yield* ActorSystem
    const context = Context.add(yield* Effect.context<never>(), ActorSystem, system)
    const pool = ++poolCounter
    const handles = new Map<number, Handle>()
    const spawner = NodeWorker.layer((index) => {
      const handle = handles.get(index)!
      const started = options.start(index, nodeIdOf(index))
      handle.current = started
      started.once("exit", () => {
        handle.exited = true
      })
      return started
    })
    const nodeIdOf = (index: number) => `${options.label}-${pool}.${index}`

    const startMember = (
      index: number
    ): Effect.Effect<Member, ActorError.ActorError, Scope.Scope | Worker.WorkerPlatform | Worker.Spawner> =>
      Effect.gen(function* () {
        const handle: Handle = { current: undefined, exited: false }
        handles.set(index, handle)
        const platform = yield* Worker.WorkerPlatform
        const worker = yield* platform.spawn<Uint8Array, Uint8Array>(index).pipe(Effect.orDie)
        const nodeId = nodeIdOf(index)
        const send = (bytes: Uint8Array) => {
          Effect.runSync(worker.send(bytes, [bytes.buffer]).pipe(Effect.ignore))
        }
        const link = new Link(
          { write: send, close: () => {} },
          {
            nodeId: "parent",
            peerLabel: nodeId,
            host: { system, behaviours: new Map(), context },
            version: options.version,
            // a node that broke the protocol is of no further use: end it rather than leave it running
            onClose: (error) => {
              if (error.reason._tag === "ProtocolError" || error.reason._tag === "VersionMismatch") kill(handle)
            }
          }
        )
        const running = yield* worker
          .run((bytes) => Effect.sync(() => link.receive(bytes)))
          .pipe(Effect.forkScoped({ startImmediately: true }))
        running.addObserver((exit) => {
          const why = Exit.isFailure(exit)
            ? Cause.hasInterruptsOnly(exit.cause)
              ? "its backend was closed"
              : describeExit(exit.cause)
            : "it stopped"
          link.fail(
            ActorError.make(
              new ActorError.PeerDied({
                node: link.peer,
                message: `${link.peer} is gone (${why}) with requests in flight; their outcome is unknown`
              })
            )
          )
        })
        link.start()
        yield* link.whenOpen.pipe(
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
        return { link, handle, send }
      })

    const members = yield* Effect.forEach(
      Array.from({ length: options.size }, (_, i) => i),
      startMember,
      { concurrency: "unbounded" }
    ).pipe(Effect.provide(spawner))

    const memberFor = (id: string): Member => members[hash(id) % members.length]!

    const knows = (link: Link, protocol: Protocol.Any): ActorError.ActorError | undefined =>
      link.status === "open" && !link.peerKinds.includes(protocol.name)
        ? ActorError.make(new ActorError.UnknownProtocol({ protocol: protocol.name }))
        : undefined

    const spawnOn = <P extends Protocol.Any>(
      protocol: P,
      spawnOptions: SpawnOptions,
      getOrSpawn: boolean
    ): Effect.Effect<ActorRef<P>, ActorError.ActorError> =>
      Effect.suspend(() => {
        const { link } = memberFor(spawnOptions.id)
        const unknown = knows(link, protocol)
        if (unknown !== undefined) return Exit.fail(unknown)
        return link.spawn(protocol, spawnOptions.id, spawnOptions.mailbox, getOrSpawn) as Effect.Effect<
          ActorRef<P>,
          ActorError.ActorError
        >
      })

    const backend: PoolBackend = {
      name: options.label,
      spawn: (protocol, spawnOptions) => spawnOn(protocol, spawnOptions, false),
      getOrSpawn: (protocol, spawnOptions) => spawnOn(protocol, spawnOptions, true),
      lookup: (protocol, id) =>
        Effect.suspend(() => memberFor(id).link.lookup(protocol, id) as Effect.Effect<any, ActorError.ActorError>),
      nodes: Effect.sync(() =>
        members.map(({ link, handle, send }): PoolNode => {
          const current = handle.current
          return {
            id: link.peer,
            pid: current !== undefined && "pid" in current ? current.pid : undefined,
            get alive() {
              return !handle.exited
            },
            kill: Effect.sync(() => kill(handle)),
            inject: (bytes) => Effect.sync(() => send(bytes))
          }
        })
      )
    }
    return backend
  })

const describeExit = (cause: Cause.Cause<unknown>): string => {
  for (const r of cause.reasons) {
    if (r._tag === "Fail") return String((r.error as { message?: string })?.message ?? r.error)
    if (r._tag === "Die") return String(r.defect)
  }
  return "interrupted"
}

/** Wraps `make` as a Layer for a backend's service key. */
export const layer = <I>(key: Context.Key<I, Backend>, options: PoolOptions): Layer.Layer<I, ActorError.ActorError> =>
  Layer.effect(key as Context.Key<I, PoolBackend>, make(options)) as Layer.Layer<I, ActorError.ActorError>
