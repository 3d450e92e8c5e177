/**
 * A link: one connection between two Troupe nodes over any transport that moves byte batches (a
 * worker's postMessage, a child's pipe, a TCP socket). It is symmetric: each side can call actors on the
 * other (client role: pending requests by id) and serve calls to its own actors (server role: the
 * local ActorSystem and the behaviours it allows peers to spawn). Frames of one tick go out as one batch.
 */
import { Cause, Context, Duration, Effect, Exit, Fiber, Queue, Schema, Stream } from "effect"
import * as ActorError from "../../ActorError.ts"
import * as ActorRef from "../../ActorRef.ts"
import type { ActorSystem } from "../../ActorSystem.ts"
import type * as Behaviour from "../../Behaviour.ts"
import type { SpawnOptions } from "../../Backend.ts"
import type { Method, Protocol } from "../../Protocol.ts"
import * as Supervision from "../../Supervision.ts"
import * as T from "../../Termination.ts"
import type { Termination } from "../../Termination.ts"
import { Admitted, Envelope, Full, WaitingForRoom, chainOf, closesCycle, idleMillis, type Cell } from "../cell.ts"
import * as Letters from "../deadletters.ts"
import type { Letter } from "../deadletters.ts"
import * as Trace from "../trace.ts"
import { parentOf } from "../trace.ts"
import * as codec from "../codec.ts"
import * as F from "./frame.ts"
import { Requests } from "./requests.ts"
import { capActors, distinct, type LinkReport, Reports, reportOf } from "../report.ts"

/** Moves byte batches to the peer. Failures are reported to the link with `Link.fail`, never thrown. */
export interface Transport {
  /**
   * Sends one batch. The bytes are a view into the encoder's buffer, valid only during the call: a
   * transport copies them (into a transferable buffer, or behind a length prefix) before returning.
   */
  readonly write: (bytes: Uint8Array) => void
  /** Closes the transport; called once, when the link closes. */
  readonly close: () => void
  /** The largest batch this side's reader accepts, told to the peer in HELLO; none for a transport without a limit. */
  readonly maxFrame?: number | undefined
}

/** What a link serves to its peer: the local actors, and the kinds the peer may spawn here. */
export interface Host {
  readonly system: ActorSystem
  /** The allow-list: behaviours the peer may spawn here, by protocol name. */
  readonly behaviours: ReadonlyMap<string, Behaviour.Impl>
  /** Context to run server-side effects (spawns, streams) in. */
  readonly context: Context.Context<never>
}

export interface LinkOptions {
  /** This node's id, sent in the handshake. Default: the host system's node id. */
  readonly nodeId?: string | undefined
  /** How to name the peer until its handshake arrives ("worker-1"). */
  readonly peerLabel: string
  readonly host: Host
  /** Wire version to announce (tests override it to provoke a mismatch). */
  readonly version?: number | undefined
  /** Called once when the link has closed. */
  readonly onClose?: ((error: ActorError.ActorError) => void) | undefined
  /**
   * Frames after which a batch is sent without waiting for the end of the tick. Default: no limit
   * (one batch per tick). Transports between CPUs set a limit so that both sides work in parallel.
   */
  readonly batchLimit?: number | undefined
  /**
   * The error for requests in flight when the peer goes away (says BYE): PeerDied for a worker or
   * child, Disconnected for a TCP peer.
   */
  readonly lost?: ((node: string, message: string) => ActorError.ActorError) | undefined
  /**
   * The link that refs made on this one should use now, given the node they were made for: a TCP
   * client that reconnected hands its new link; a server that restarted (another node id) gets an error.
   * Default: this link.
   */
  readonly resolve?: ((node: string) => Link | ActorError.ActorError) | undefined
  /** Heartbeats: a PING after `interval` ms of quiet; no frame at all for `timeout` ms closes the link. */
  readonly heartbeat?: { readonly interval: number; readonly timeout: number } | undefined
  /**
   * Whether the peer may inspect this node (INSPECT): true where the peer started this node (a worker's
   * or child's link to its parent) or owns it (a server session's link to its client). Default false:
   * a parent is not inspected by its workers, nor a client by its server.
   */
  readonly inspectable?: boolean | undefined
}

/** A CBOR array of already encoded items (`size` bytes in all): a batch built by `flushSplit`. */
const concatArray = (items: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const n = items.length
  const head =
    n < 24
      ? [0x80 + n]
      : n < 256
        ? [0x98, n]
        : n < 65536
          ? [0x99, n >> 8, n & 0xff]
          : [0x9a, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
  const out = new Uint8Array(head.length + size)
  out.set(head, 0)
  let at = head.length
  for (const item of items) {
    out.set(item, at)
    at += item.length
  }
  return out
}

const peerDied = (node: string, message: string) => ActorError.make(new ActorError.PeerDied({ node, message }))

const decodeReports = Schema.decodeUnknownExit(Reports)

/**
 * The reports of the nodes behind `link`, waiting `wait` ms at most (and giving them less, see below); a
 * neighbour that fails or does not answer in time is one Unanswered entry.
 */
const inspectNeighbour = (link: Link, hops: number, wait: number): Effect.Effect<Reports> => {
  // too little time left to ask and hear back: say so rather than report a healthy node as silent
  if (wait < minimumInspectWait) {
    return Effect.succeed([{ node: link.peer, error: `not asked: ${wait} ms left of the inspection's time` }])
  }
  // the neighbour keeps an equal share of the time for each level below it, and one for its answer
  const budget = Math.floor(wait - wait / (hops + 2))
  return link.inspect(hops, budget).pipe(
    Effect.timeoutOrElse({
      duration: wait,
      orElse: () => Effect.fail(`no report within ${wait} ms`)
    }),
    Effect.catch((e): Effect.Effect<Reports> =>
      Effect.succeed([{ node: link.peer, error: typeof e === "string" ? e : e.message }])
    )
  )
}

/** The reports of the nodes behind these links, asked at once (see inspectNeighbour). */
export const inspectAll = (links: ReadonlyArray<Link>, hops: number, wait: number): Effect.Effect<Reports> =>
  Effect.map(
    Effect.forEach(links, (link) => inspectNeighbour(link, hops, wait), { concurrency: "unbounded" }),
    (reports) => reports.flat()
  )

/** Below this wait (ms) a node does not ask its neighbours: the answer could not come back in time. */
const minimumInspectWait = 10

/** Inspections of this node by one peer that may wait for the same answer; more are refused. */
const maxInspectWaiters = 4

/** Elements a stream may send before the caller grants more. */
const STREAM_WINDOW = 256
/** Casts owed to one caster that make the acknowledgements go out by themselves (see ackCast). */
const CAST_ACK_AT = F.CAST_WINDOW / 4
/** Casters owed acknowledgements that make them go out by themselves: what the link holds is bounded. */
const CAST_ACK_KEYS = 64

class PendingCall {
  readonly actorId: string
  readonly method: Method
  readonly resume: (exit: Exit.Exit<unknown, unknown>) => void
  constructor(actorId: string, method: Method, resume: (exit: Exit.Exit<unknown, unknown>) => void) {
    this.actorId = actorId
    this.method = method
    this.resume = resume
  }
}

class PendingStream {
  readonly actorId: string
  readonly method: Method
  readonly queue: Queue.Queue<unknown, unknown>
  constructor(actorId: string, method: Method, queue: Queue.Queue<unknown, unknown>) {
    this.actorId = actorId
    this.method = method
    this.queue = queue
  }
}

class PendingControl {
  readonly resume: (exit: Exit.Exit<unknown, ActorError.ActorError>) => void
  constructor(resume: (exit: Exit.Exit<unknown, ActorError.ActorError>) => void) {
    this.resume = resume
  }
}

class PendingWatch {
  readonly resume: (termination: Termination) => void
  constructor(resume: (termination: Termination) => void) {
    this.resume = resume
  }
}

/**
 * A request this node forwards for a neighbour (a VIA frame): the link it came in on, its id there,
 * and its type, to relay the answers back or, if this side fails, to answer in the peer's stead.
 */
class Relayed {
  readonly origin: Link
  readonly id: number
  readonly type: number
  readonly forwarded: Forwarded
  constructor(origin: Link, id: number, type: number, forwarded: Forwarded) {
    this.origin = origin
    this.id = id
    this.type = type
    this.forwarded = forwarded
  }
}

/** On the link a relayed request came in on: where it went, so that DEMAND and INTERRUPT follow it. */
class Forwarded {
  readonly next: Link
  readonly id: number
  constructor(next: Link, id: number) {
    this.next = next
    this.id = id
  }
}

class PendingInspect {
  readonly resume: (exit: Exit.Exit<Reports, ActorError.ActorError>) => void
  constructor(resume: (exit: Exit.Exit<Reports, ActorError.ActorError>) => void) {
    this.resume = resume
  }
}

type Pending = PendingCall | PendingStream | PendingControl | PendingWatch | PendingInspect | Relayed

/** The key of an actor's cast window: its id on the peer, or node + NUL + id beyond it. */
const castKey = (node: string | undefined, actorId: string): string =>
  node === undefined ? actorId : `${node}\u0000${actorId}`

/**
 * The casts to one actor sent on a link and not yet acknowledged (F.CAST_ACK), and the casters waiting
 * for credit, each with its frame, in the order they cast.
 */
class CastWindow {
  unacked = 0
  waiters: Array<CastWaiter> | undefined = undefined
}
interface CastWaiter {
  readonly frame: Array<unknown>
  readonly via: string | undefined
  readonly resume: (exit: Exit.Exit<void, ActorError.ActorError>) => void
}

/** Acknowledgements of casts owed: to the peer (caster undefined), or to a caster further on. */
interface CastAck {
  readonly caster: string | undefined
  readonly actorId: string
  n: number
}

/** Server side of a stream: its envelope until the handler answers, then the fiber that runs it. */
class InboundStream {
  env: Envelope | undefined = undefined
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  credit: number
  wake: (() => void) | undefined = undefined
  constructor(credit: number) {
    this.credit = credit
  }
}

/** @internal */
export class Link {
  status: "connecting" | "open" | "closed" = "connecting"
  /** Whether the handshake ever completed (status says only where the link is now). */
  opened = false
  /** The peer's node id (its label until the handshake). */
  peer: string
  /** Protocol names the peer allows us to spawn there. */
  peerKinds: ReadonlyArray<string> = []
  closeError: ActorError.ActorError | undefined = undefined

  private readonly transport: Transport
  private readonly options: LinkOptions
  private outbox: Array<unknown> = []
  private flushScheduled = false
  /** The largest batch the peer accepts, from its HELLO; undefined for a peer without a limit. */
  private peerMaxFrame: number | undefined = undefined
  private nextId = 0
  private readonly pending = new Requests<Pending>()
  private readonly inbound = new Requests<Envelope | InboundStream | Forwarded>()
  private openWaiters: Array<(error: ActorError.ActorError | undefined) => void> = []
  /** @internal runs an effect with the services of the node's host (its logger...) */
  readonly runFork: <A, E>(effect: Effect.Effect<A, E, never>) => Fiber.Fiber<A, E>
  private readonly flushTask = () => this.flush()
  private batchLimit: number
  private lastHeard = Date.now()
  private lastSent = Date.now()
  /**
   * Ids of INSPECTs from the peer waiting for the answer being put together (undefined: none is): a
   * second inspector shares it rather than having a report built again, and past a few, more are refused.
   */
  private inspecting: Array<number> | undefined = undefined
  /** Casts this side sent, per actor (`via` + NUL + actorId; just the actorId on the peer). */
  private castWindows: Map<string, CastWindow> | undefined = undefined
  /** Acknowledgements of the peer's casts not sent yet, keyed like castWindows from the caster's side. */
  private castAcks: Map<string, CastAck> | undefined = undefined
  /** Whether castAcks must go out with the next flush, whether or not anything else does. */
  private castAcksDue = false
  // the window and the acknowledgement used last: a run of casts to one actor skips the Map lookups
  private lastWindow: CastWindow | undefined = undefined
  private lastWindowKey = ""
  private lastAck: CastAck | undefined = undefined
  private lastAckKey = ""
  /**
   * Casts this node relayed onto this link and not yet acknowledged back through it, per caster and
   * actor: if the link closes, their casters get the credit back from here (the casts are lost), or a
   * caster whose window they filled would wait for ever.
   */
  private relayedCasts: Map<string, CastAck & { readonly node: string }> | undefined = undefined

  /** Whether the peer may inspect this node: then it is this node's parent or client, not a node to ask. */
  get answersInspect(): boolean {
    return this.options.inspectable === true
  }
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined = undefined

  /** What the link holds, for diagnostics: its requests in flight each way and frames not yet sent. */
  describe(): string {
    const waiting = this.castsWaiting()
    return `${this.peer}: ${this.status}, ${this.pending.size} pending, ${this.inbound.size} inbound, ${this.outbox.length} unsent${waiting > 0 ? `, ${waiting} cast${waiting === 1 ? "" : "s"} waiting for credit` : ""}`
  }

  /** Casters waiting for their actor's window on this link to open (its mailbox over there is full). */
  private castsWaiting(): number {
    let n = 0
    if (this.castWindows !== undefined) for (const w of this.castWindows.values()) n += w.waiters?.length ?? 0
    return n
  }

  /** The same, as the inspector reports it. */
  report(): LinkReport {
    return {
      peer: this.peer,
      status: this.status,
      pending: this.pending.size,
      inbound: this.inbound.size,
      unsent: this.outbox.length,
      castsWaiting: this.castsWaiting()
    }
  }

  /** The error for requests in flight when the peer goes away. */
  lost(message: string): ActorError.ActorError {
    return (this.options.lost ?? peerDied)(this.peer, message)
  }

  constructor(transport: Transport, options: LinkOptions) {
    this.transport = transport
    this.options = options
    this.peer = options.peerLabel
    this.batchLimit = options.batchLimit ?? Number.POSITIVE_INFINITY
    this.runFork = Effect.runForkWith(options.host.context) as any
  }

  /**
   * Whether the peer runs on this thread's CPU. While it does, batches go out once per tick whatever
   * the configured limit: an early batch would only add a context switch (a worker link's polling
   * detects this, see node/internal/handles.ts).
   */
  sharesCpu(shared: boolean): void {
    this.batchLimit = shared ? Number.POSITIVE_INFINITY : (this.options.batchLimit ?? Number.POSITIVE_INFINITY)
  }

  // ---------------------------------------------------------------- lifecycle

  /** Sends the handshake. */
  start(): void {
    const kinds = Array.from(this.options.host.behaviours.keys())
    const hello = [
      F.HELLO,
      F.MAGIC,
      this.options.version ?? F.VERSION,
      this.options.nodeId ?? this.options.host.system.nodeId,
      kinds
    ]
    if (this.transport.maxFrame !== undefined) hello.push(this.transport.maxFrame)
    this.write(hello)
  }

  /** Completes once the peer's handshake has arrived, or fails with why the link closed. */
  readonly whenOpen: Effect.Effect<void, ActorError.ActorError> = Effect.callback((resume) => {
    if (this.status === "open") return resume(Exit.void)
    if (this.status === "closed") return resume(Exit.fail(this.closeError!))
    this.openWaiters.push((error) => resume(error === undefined ? Exit.void : Exit.fail(error)))
  })

  /**
   * Closes the link: every pending call and stream fails with `error`, inbound work is cancelled.
   * Idempotent; the first error wins.
   */
  fail(error: ActorError.ActorError): void {
    if (this.status === "closed") return
    const wasOpen = this.status === "open"
    this.status = "closed"
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer)
    if (wasOpen) this.options.host.system.router.detach(this, error)
    this.closeError = error
    const exit = Exit.fail(error)
    for (const waiter of this.openWaiters) waiter(error)
    this.openWaiters = []
    const pending = this.pending.drain()
    const down = new T.NodeDown({ node: this.peer, message: error.message })
    for (const p of pending) {
      if (p instanceof PendingStream) Queue.failCauseUnsafe(p.queue, Cause.fail(error))
      else if (p instanceof PendingWatch) p.resume(down)
      else if (p instanceof Relayed) p.origin.answerRelayed(p, error, down)
      else p.resume(exit)
    }
    // nobody is left to answer: queued requests of the peer are dropped, running ones interrupted
    const inbound = this.inbound.drain()
    for (const entry of inbound) cancelInbound(entry)
    // casts relayed onto this link will never be acknowledged: their casters get the credit back
    const relayed = this.relayedCasts
    this.relayedCasts = undefined
    if (relayed !== undefined) {
      const router = this.options.host.system.router
      for (const r of relayed.values()) router.sendRouted([F.CAST_ACK, r.caster, r.node, r.actorId, r.n])
    }
    const windows = this.castWindows
    this.castWindows = undefined
    this.castAcks = undefined
    this.lastWindow = undefined
    this.lastAck = undefined
    if (windows !== undefined) for (const w of windows.values()) for (const c of w.waiters ?? []) c.resume(exit)
    this.outbox = []
    try {
      this.transport.close()
    } finally {
      this.options.onClose?.(error)
    }
  }

  private startHeartbeat(): void {
    const heartbeat = this.options.heartbeat
    if (heartbeat === undefined) return
    const tick = Math.max(1, Math.min(heartbeat.interval, heartbeat.timeout / 2))
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now()
      if (now - this.lastHeard > heartbeat.timeout) {
        return this.fail(
          this.lost(
            `nothing heard from ${this.peer} for ${heartbeat.timeout} ms; requests in flight have an unknown outcome`
          )
        )
      }
      if (now - this.lastSent >= heartbeat.interval) this.write([F.PING])
    }, tick)
    this.heartbeatTimer.unref?.()
  }

  /** Closes the link because the peer broke the protocol, telling it why first. */
  private protocolError(message: string): void {
    if (this.status === "closed") return
    this.outbox = [[F.FAILED, message]]
    this.flush()
    this.fail(ActorError.make(new ActorError.ProtocolError({ node: this.peer, message })))
  }

  // ---------------------------------------------------------------- batching

  /** Queues a frame for the peer (the router's way out). */
  send(frame: unknown): void {
    this.write(frame)
  }

  private write(frame: unknown): void {
    if (this.status === "closed") return
    // on a multi-core machine a partial batch goes out at once, so the peer starts on it while this
    // side is still producing the rest (measured: see docs/benchmarks.md, "batch limit")
    if (this.outbox.push(frame) >= this.batchLimit) return this.flush()
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(this.flushTask)
    }
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.castAcks !== undefined && (this.castAcksDue || this.outbox.length > 0)) this.sendCastAcks()
    if (this.outbox.length === 0) return
    const frames = this.outbox
    this.outbox = []
    let bytes: Uint8Array
    try {
      bytes = codec.cbor.encode(frames)
    } catch (e) {
      // a value the Schema let through but CBOR cannot encode: fail those requests rather than the link
      return this.flushSplit(frames)
    }
    this.lastSent = Date.now()
    if (this.peerMaxFrame !== undefined && bytes.length > this.peerMaxFrame) return this.flushSplit(frames)
    this.transport.write(bytes)
  }

  /**
   * The slow path of a flush: frames encoded one by one and sent in as many batches as the peer's limit
   * needs (messages each under it, sent in one tick, must not add up to a batch it refuses). A frame that
   * cannot be encoded, or is over the limit by itself, is answered for here instead (`unencodable`);
   * `failedStreams` are the streams so answered in this flush, whose later chunks go nowhere.
   */
  private flushSplit(frames: Array<unknown>, failedStreams = new Set<number>()): void {
    // room for the largest CBOR array header, so that a group's items alone are held to the limit
    const limit = (this.peerMaxFrame ?? Infinity) - 9
    let group: Array<Uint8Array> = []
    let size = 0
    const emit = () => {
      if (group.length === 0) return
      this.transport.write(concatArray(group, size))
      group = []
      size = 0
    }
    for (const frame of frames) {
      const f = frame as Array<any>
      // the rest of a stream whose chunk failed (its END has gone out) goes nowhere
      if (f[0] === F.CHUNK && failedStreams.has(f[1])) continue
      let item: Uint8Array
      try {
        // a copy: the encoder's buffer is reused by the next encode
        item = codec.cbor.encode(frame).slice()
      } catch (e) {
        this.unencodable(f, `cbor: ${e instanceof Error ? e.message : String(e)}`, failedStreams)
        continue
      }
      if (item.length > limit) {
        if (f[0] === F.CHUNK && f[2].length > 1) {
          // a chunk of several elements can travel as several chunks, each element on its own
          emit()
          this.flushSplit(
            (f[2] as Array<unknown>).map((element) => [F.CHUNK, f[1], [element]]),
            failedStreams
          )
          continue
        }
        this.unencodable(
          f,
          `the message is ${item.length} bytes, over the peer's limit of ${this.peerMaxFrame} bytes`,
          failedStreams
        )
        continue
      }
      if (size + item.length > limit) emit()
      group.push(item)
      size += item.length
    }
    emit()
  }

  /**
   * A frame that cannot be sent (CBOR refused it, or it is over the peer's limit): the request it belongs
   * to is answered with a DecodeError instead, here or at the peer. A cast is dropped (casts are at most
   * once); a frame that nothing can answer for (a channel message, a publication, whose credit or
   * acknowledgement would never come back) closes the link, so that its senders fail typed, not hang.
   */
  private unencodable(frame: Array<unknown>, message: string, failedStreams: Set<number>, via?: string): void {
    const type = frame[0]
    if (type === F.VIA) return this.unencodable(frame[2] as Array<unknown>, message, failedStreams, frame[1] as string)
    if (type === F.REPLY || type === F.END) {
      const error = ActorError.make(new ActorError.DecodeError({ actorId: "", method: "", part: "reply", message }))
      this.transport.write(codec.cbor.encode([[type, frame[1], F.ACTOR_ERROR, codec.encodeActorError(error)]]))
    } else if (type === F.CHUNK) {
      const id = frame[1] as number
      failedStreams.add(id)
      const entry = this.inbound.take(id)
      if (entry !== undefined) cancelInbound(entry)
      const error = ActorError.make(new ActorError.DecodeError({ actorId: "", method: "", part: "stream", message }))
      this.transport.write(codec.cbor.encode([[F.END, id, F.ACTOR_ERROR, codec.encodeActorError(error)]]))
    } else if (type === F.CALL || type === F.STREAM) {
      const id = frame[1] as number
      const p = this.pending.take(id)
      const error = ActorError.make(
        new ActorError.DecodeError({ actorId: String(frame[2]), method: String(frame[3]), part: "payload", message })
      )
      if (p instanceof PendingStream) Queue.failCauseUnsafe(p.queue, Cause.fail(error))
      else if (p instanceof PendingCall || p instanceof PendingControl) p.resume(Exit.fail(error))
      else if (p instanceof Relayed) p.origin.answerRelayed(p, error, T.stopped)
    } else if (type === F.CAST) {
      // it will never be acknowledged: give its credit back here, or to its caster further on
      const actorId = frame[1] as string
      const src = (frame[5] ?? undefined) as string | undefined
      if (src === undefined || src === this.options.host.system.router.nodeId) {
        // after this flush: casts it lets go must not overtake frames of the batch being split
        const key = castKey(via, actorId)
        queueMicrotask(() => this.creditCasts(key, 1))
      } else {
        // a cast this node relays: it was counted onto this link, and will not be acknowledged through it
        this.relayedCast(src, via ?? this.peer, actorId, -1)
        this.options.host.system.router.sendRouted([F.CAST_ACK, src, via ?? this.peer, actorId, 1])
      }
      const from = src ?? this.options.host.system.nodeId
      this.dropCast(Letters.castLost(actorId, from, String(frame[3]), "DecodeError", message, this.peer))
    } else {
      const name = F.names[type as number] ?? String(type)
      this.fail(ActorError.make(new ActorError.ProtocolError({ node: this.peer, message: `${name}: ${message}` })))
    }
  }

  private newId(): number {
    this.nextId = this.nextId >= F.MAX_REQUEST_ID ? 1 : this.nextId + 1
    return this.nextId
  }

  // ---------------------------------------------------------------- receiving

  /** Handles one batch from the transport. */
  receive(bytes: Uint8Array): void {
    if (this.status === "closed") return
    if (this.heartbeatTimer !== undefined) this.lastHeard = Date.now()
    let frames: unknown
    try {
      frames = codec.cbor.decode(bytes)
    } catch (e) {
      return this.protocolError(`undecodable batch: ${e instanceof Error ? e.message : String(e)}`)
    }
    if (!Array.isArray(frames)) return this.protocolError("a batch must be an array of frames")
    for (let i = 0; i < frames.length; i++) {
      // a frame may have closed the link
      if ((this.status as Link["status"]) === "closed") return
      const frame = frames[i]
      const problem = F.check(frame)
      if (problem !== undefined) return this.protocolError(problem)
      this.dispatch(frame as Array<any>)
    }
    // answers produced while handling the batch leave now, as one batch, without waiting for the tick
    if (this.outbox.length > 0 || this.castAcksDue) this.flush()
  }

  private dispatch(f: Array<any>): void {
    const type = f[0] as number
    if (this.status === "connecting") {
      if (type === F.FAILED) return this.peerFailed(f[1])
      if (type !== F.HELLO) return this.protocolError(`expected HELLO, got ${F.names[type]}`)
      return this.hello(f)
    }
    switch (type) {
      case F.REPLY:
        return this.onReply(f[1], f[2], f[3])
      case F.CALL:
        return this.onCall(f[1], f[2], f[3], f[4], f[5], f[6] ?? undefined, f[7])
      case F.CAST:
        return this.onCast(f[1], f[2], f[3], f[4], f[5] ?? undefined, f[6])
      case F.CAST_ACK:
        return this.onCastAck(f)
      case F.CHUNK:
        return this.onChunk(f[1], f[2])
      case F.END:
        return this.onEnd(f[1], f[2], f[3])
      case F.STREAM:
        return this.onStream(f[1], f[2], f[3], f[4], f[5], f[6], f[7])
      case F.DEMAND:
        return this.onDemand(f[1], f[2])
      case F.INTERRUPT:
        return this.onInterrupt(f[1])
      case F.SPAWN:
        return this.onSpawn(f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8])
      case F.LOOKUP:
        return this.onLookup(f[1], f[2], f[3])
      case F.STOP:
        return this.onStop(f[1], f[2], f[3], f[4])
      case F.WATCH:
        return this.onWatch(f[1], f[2], f[3])
      case F.PING:
        return this.write([F.PONG])
      case F.PONG:
        return
      case F.FAILED:
        return this.peerFailed(f[1])
      case F.BYE:
        return this.fail(
          this.lost(`${this.peer} closed the link (${f[1]}): for a request in flight then, the outcome is unknown`)
        )
      case F.VIA:
        return this.onVia(f[1], f[2])
      case F.INSPECT:
        return this.onInspect(f[1], f[2], f[3])
      case F.HELLO:
        return this.protocolError("a second HELLO")
      case F.CH_OPEN:
      case F.CH_OPENED:
      case F.CH_MSG:
      case F.CH_ACK:
      case F.CH_CLOSED:
      case F.T_SUB:
      case F.T_UNSUB:
      case F.T_PUB:
      case F.T_ACK:
        return this.options.host.system.router.receive(this, f)
    }
  }

  private hello(f: Array<any>): void {
    if (f[1] !== F.MAGIC) return this.protocolError("bad magic: the peer is not a Troupe node")
    const version = this.options.version ?? F.VERSION
    if (f[2] !== version) {
      this.outbox = [[F.FAILED, `version mismatch: expected ${version}, got ${f[2]}`]]
      this.flush()
      return this.fail(ActorError.make(new ActorError.VersionMismatch({ node: f[3], expected: version, actual: f[2] })))
    }
    this.peer = f[3]
    this.peerKinds = (f[4] as Array<unknown>).filter((k): k is string => typeof k === "string")
    this.peerMaxFrame = f[5]
    this.status = "open"
    this.opened = true
    this.options.host.system.router.attach(this)
    this.startHeartbeat()
    const waiters = this.openWaiters
    this.openWaiters = []
    for (const w of waiters) w(undefined)
  }

  private peerFailed(message: string): void {
    const error = message.startsWith("host failed: ")
      ? ActorError.make(new ActorError.HostFailed({ node: this.peer, message: message.slice(13) }))
      : message.startsWith("version mismatch")
        ? ActorError.make(new ActorError.ProtocolError({ node: this.peer, message }))
        : ActorError.make(
            new ActorError.ProtocolError({ node: this.peer, message: `the peer closed the link: ${message}` })
          )
    this.fail(error)
  }

  /**
   * Closes the link normally, telling the peer why first (it then releases what it held for us).
   * Requests in flight here fail with `error`.
   */
  bye(reason: string, error: ActorError.ActorError): void {
    if (this.status === "closed") return
    this.outbox.push([F.BYE, reason])
    this.flush()
    this.fail(error)
  }

  /** Tells the peer a fatal error (e.g. the host module failed to load) and closes. */
  failWith(message: string, error: ActorError.ActorError): void {
    if (this.status === "closed") return
    this.outbox.push([F.FAILED, message])
    this.flush()
    this.fail(error)
  }

  // ---------------------------------------------------------------- client role

  private closedExit(): Exit.Exit<never, ActorError.ActorError> {
    return Exit.fail(this.closeError!)
  }

  /**
   * The endpoint of an actor on the peer, or, with `via`, on node `via` beyond it: requests then
   * travel as VIA frames that the nodes on the way relay.
   */
  endpoint(protocol: Protocol.Any, actorId: string, incarnation: number, via?: string): ActorRef.Endpoint {
    return new RemoteEndpoint(this, via ?? this.peer, protocol, actorId, incarnation, via)
  }

  /** Writes a request for the peer, or for node `via` beyond it. */
  private request(frame: Array<unknown>, via: string | undefined): void {
    this.write(via === undefined ? frame : [F.VIA, via, frame])
  }

  /** The link to use for a ref made for `node` (see LinkOptions.resolve). */
  resolve(node: string): Link | ActorError.ActorError {
    return this.options.resolve === undefined ? this : this.options.resolve(node)
  }

  /**
   * The reports of the peer and of the nodes behind it, up to `hops` links further, which the peer
   * waits for at most `budget` ms (the inspector's view of that part of the system). Its first INSPECT
   * turns metering on over there. Not bounded here: the caller sets its own timeout.
   */
  inspect(hops: number, budget: number): Effect.Effect<Reports, ActorError.ActorError> {
    return Effect.callback<Reports, ActorError.ActorError>((resume) => {
      if (this.status === "closed") return resume(this.closedExit())
      const id = this.newId()
      this.pending.set(id, new PendingInspect(resume))
      this.write([F.INSPECT, id, Math.min(hops, F.MAX_INSPECT_HOPS), Math.min(budget, F.MAX_INSPECT_BUDGET)])
      return Effect.sync(() => {
        this.pending.delete(id)
      })
    })
  }

  /** Completes when the actor ends, with how; NodeDown if this link closes first. */
  watch(actorId: string, incarnation: number, via?: string): Effect.Effect<Termination> {
    return Effect.callback<Termination>((resume) => {
      if (this.status === "closed") {
        return resume(Exit.succeed(new T.NodeDown({ node: via ?? this.peer, message: this.closeError!.message })))
      }
      const id = this.newId()
      this.pending.set(id, new PendingWatch((t) => resume(Exit.succeed(t))))
      this.request([F.WATCH, id, actorId, incarnation], via)
      // a node relaying the watch holds it until it is answered: tell it the watcher left
      return Effect.sync(() => {
        if (this.pending.delete(id) && via !== undefined) this.write([F.INTERRUPT, id])
      })
    })
  }

  /**
   * @internal used by RemoteEndpoint: sends a CALL whose reply resumes `resume`; returns what interrupts
   * it. Not an Effect of its own, so that a remote call is one `Effect.callback` (resolving the link
   * inside it) rather than a suspend around a callback: one primitive and two closures fewer per call.
   */
  register(
    actorId: string,
    incarnation: number,
    method: Method,
    payload: unknown,
    resume: (exit: Exit.Exit<unknown, unknown>) => void,
    via: string | undefined
  ): Effect.Effect<void> | undefined {
    if (this.status === "closed") {
      resume(this.closedExit())
      return undefined
    }
    const encoded = codec.encode(actorId, method, "payload", payload)
    if (Exit.isFailure(encoded)) {
      resume(encoded)
      return undefined
    }
    const id = this.newId()
    this.pending.set(id, new PendingCall(actorId, method, resume))
    // a call from a handler names the handler runs waiting for it, so the peer can refuse a cycle; a
    // call from inside a span names that span, so the handler's span joins the caller's trace
    const fiber = Fiber.getCurrent()
    const chain = chainOf(fiber)
    const parent = parentOf(fiber)
    const frame: Array<unknown> = [F.CALL, id, actorId, incarnation, method.name, encoded.value]
    if (chain !== undefined || parent !== undefined) frame.push(chain ?? null)
    if (parent !== undefined) frame.push(Trace.encode(parent))
    this.request(frame, via)
    return Effect.sync(() => {
      if (this.pending.delete(id)) this.write([F.INTERRUPT, id])
    })
  }

  /**
   * @internal a cast completes once its frame is handed to the link, while fewer than CAST_WINDOW casts
   * to that actor are unacknowledged; past that it waits for the peer to take some into the mailbox
   */
  cast(
    actorId: string,
    incarnation: number,
    method: Method,
    payload: unknown,
    via?: string
  ): Effect.Effect<void, ActorError.ActorError> {
    return Effect.suspend(() => {
      if (this.status === "closed") return this.closedExit()
      const encoded = codec.encode(actorId, method, "payload", payload)
      if (Exit.isFailure(encoded)) return encoded
      // a relayed cast names this node, where its acknowledgement is routed back to
      const parent = parentOf(Fiber.getCurrent())
      const frame: Array<unknown> = [F.CAST, actorId, incarnation, method.name, encoded.value]
      if (via !== undefined || parent !== undefined) {
        frame.push(via === undefined ? null : this.options.host.system.router.nodeId)
      }
      if (parent !== undefined) frame.push(Trace.encode(parent))
      const key = castKey(via, actorId)
      if (this.sendCast(key, frame, via)) return Exit.void
      // the fiber may yield before it waits, and credit come meanwhile: the callback looks again
      return Effect.callback<void, ActorError.ActorError>((resume) => {
        if (this.status === "closed") return resume(this.closedExit())
        if (this.sendCast(key, frame, via)) return resume(Exit.void)
        const window = this.castWindows!.get(key)!
        const waiter: CastWaiter = { frame, via, resume }
        ;(window.waiters ??= []).push(waiter)
        return Effect.sync(() => {
          const i = window.waiters?.indexOf(waiter) ?? -1
          if (i < 0) return
          window.waiters!.splice(i, 1)
          if (window.waiters!.length === 0) window.waiters = undefined
          this.creditCasts(key, 0)
        })
      })
    })
  }

  /** Sends a cast if its actor's window has room and no one waits before it; false if it must wait. */
  private sendCast(key: string, frame: Array<unknown>, via: string | undefined): boolean {
    let w = this.lastWindowKey === key ? this.lastWindow : undefined
    if (w === undefined) {
      const windows = (this.castWindows ??= new Map())
      w = windows.get(key)
      if (w === undefined) windows.set(key, (w = new CastWindow()))
      this.lastWindow = w
      this.lastWindowKey = key
    }
    if (w.waiters !== undefined || w.unacked >= F.CAST_WINDOW) return false
    w.unacked++
    this.request(frame, via)
    return true
  }

  /** n casts under `key` were acknowledged (or will never be): waiting casters go out in order. */
  private creditCasts(key: string, n: number): void {
    const w = this.castWindows?.get(key)
    if (w === undefined) return
    w.unacked = Math.max(0, w.unacked - n)
    while (w.waiters !== undefined && w.unacked < F.CAST_WINDOW) {
      const next = w.waiters.shift()!
      if (w.waiters.length === 0) w.waiters = undefined
      w.unacked++
      this.request(next.frame, next.via)
      next.resume(Exit.void)
    }
    if (w.unacked === 0 && w.waiters === undefined) {
      this.castWindows!.delete(key)
      if (this.lastWindow === w) this.lastWindow = undefined
    }
  }

  /**
   * One of a caster's casts entered the mailbox (or never will): owe it one acknowledgement. Owed
   * acknowledgements ride along with whatever the link sends next, and go out by themselves only once one
   * caster is owed a quarter of its window (or many casters are owed some): an acknowledgement per
   * incoming batch cost a pipe write per 16 casts, a third of a child's cast rate. A caster can only wait
   * with a whole window unacknowledged, and then its owed count reaches the quarter as the actor takes
   * the casts in, so no caster waits for an acknowledgement held back here.
   */
  private ackCast(caster: string | undefined, actorId: string): void {
    if (this.status === "closed") return
    const key = castKey(caster, actorId)
    const acks = (this.castAcks ??= new Map())
    let owed = this.lastAckKey === key ? this.lastAck : undefined
    if (owed === undefined) {
      owed = acks.get(key)
      if (owed === undefined) acks.set(key, (owed = { caster, actorId, n: 0 }))
      this.lastAck = owed
      this.lastAckKey = key
    }
    const n = ++owed.n
    if (this.castAcksDue || (n < CAST_ACK_AT && acks.size < CAST_ACK_KEYS)) return
    this.castAcksDue = true
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(this.flushTask)
    }
  }

  /** Sends the acknowledgements owed: to the peer here, to casters further on routed. */
  private sendCastAcks(): void {
    const acks = this.castAcks!
    this.castAcks = undefined
    this.castAcksDue = false
    this.lastAck = undefined
    const router = this.options.host.system.router
    for (const ack of acks.values()) {
      if (ack.caster === undefined) this.outbox.push([F.CAST_ACK, ack.actorId, ack.n])
      else router.sendRouted([F.CAST_ACK, ack.caster, router.nodeId, ack.actorId, ack.n])
    }
  }

  /** An acknowledgement of casts: ours (from the peer, or routed to this node), or one to pass on. */
  private onCastAck(f: Array<any>): void {
    if (f.length === 3) return this.creditCasts(f[1], f[2])
    const router = this.options.host.system.router
    if (f[1] === router.nodeId) return this.creditCasts(castKey(f[2], f[3]), f[4])
    this.relayedCast(f[1], f[2], f[3], -f[4])
    const next = router.route(f[1])
    if (next !== undefined && next !== this) next.send(f)
  }

  /** Counts casts relayed onto this link (n > 0) or acknowledged back through it (n < 0). */
  private relayedCast(caster: string, node: string, actorId: string, n: number): void {
    const key = `${caster}\u0000${castKey(node, actorId)}`
    const relayed = (this.relayedCasts ??= new Map())
    const entry = relayed.get(key)
    if (entry === undefined) {
      if (n > 0) relayed.set(key, { caster, node, actorId, n })
      return
    }
    entry.n += n
    if (entry.n <= 0) relayed.delete(key)
  }

  /** @internal a stream call: elements flow under a credit window the caller replenishes as it consumes */
  stream(
    actorId: string,
    incarnation: number,
    method: Method,
    payload: unknown,
    via?: string
  ): Stream.Stream<unknown, unknown> {
    return Stream.unwrap(
      Effect.suspend(() => {
        if (this.status === "closed") return Exit.succeed(Stream.fail(this.closeError!))
        const encoded = codec.encode(actorId, method, "payload", payload)
        if (Exit.isFailure(encoded)) return Exit.succeed(Stream.failCause(encoded.cause))
        return Effect.map(Queue.unbounded<unknown, unknown>(), (queue) =>
          this.openStream(actorId, incarnation, method, encoded.value, queue, via)
        )
      })
    )
  }

  private openStream(
    actorId: string,
    incarnation: number,
    method: Method,
    payload: unknown,
    queue: Queue.Queue<unknown, unknown>,
    via: string | undefined
  ): Stream.Stream<unknown, unknown> {
    const id = this.newId()
    this.pending.set(id, new PendingStream(actorId, method, queue))
    const parent = parentOf(Fiber.getCurrent())
    this.request(
      parent === undefined
        ? [F.STREAM, id, actorId, incarnation, method.name, payload, STREAM_WINDOW]
        : [F.STREAM, id, actorId, incarnation, method.name, payload, STREAM_WINDOW, Trace.encode(parent)],
      via
    )
    let consumed = 0
    return Stream.fromQueue(queue).pipe(
      Stream.mapArray((elements) => {
        consumed += elements.length
        if (consumed >= STREAM_WINDOW / 2 && this.pending.has(id)) {
          this.write([F.DEMAND, id, consumed])
          consumed = 0
        }
        return elements
      }),
      Stream.ensuring(
        Effect.sync(() => {
          if (this.pending.delete(id)) this.write([F.INTERRUPT, id])
        })
      )
    )
  }

  /** @internal spawn, get-or-spawn, lookup and stop on the peer */
  control(frame: (id: number) => Array<unknown>, via?: string): Effect.Effect<unknown, ActorError.ActorError> {
    return Effect.callback<unknown, ActorError.ActorError>((resume) => {
      if (this.status === "closed") return resume(this.closedExit())
      const id = this.newId()
      this.pending.set(id, new PendingControl(resume))
      this.request(frame(id), via)
      return Effect.sync(() => {
        this.pending.delete(id)
      })
    })
  }

  /** Spawns (or gets-or-spawns) an actor on the peer. */
  spawn(
    protocol: Protocol.Any,
    options: SpawnOptions,
    getOrSpawn: boolean
  ): Effect.Effect<ActorRef.ActorRef<any>, ActorError.ActorError> {
    return Effect.suspend(() => {
      const { id, mailbox } = options
      const idle = idleMillis(options.idleTimeout) ?? null
      return Effect.map(
        this.control((req) => [
          F.SPAWN,
          req,
          protocol.name,
          id,
          mailbox?.capacity ?? null,
          mailbox?.overflow ?? null,
          getOrSpawn,
          Supervision.encode(options.supervision),
          idle
        ]),
        (incarnation) => ActorRef.make(this.endpoint(protocol, id, incarnation as number))
      )
    })
  }

  lookup(protocol: Protocol.Any, id: string): Effect.Effect<ActorRef.ActorRef<any>, ActorError.ActorError> {
    return Effect.map(
      this.control((req) => [F.LOOKUP, req, protocol.name, id]),
      (incarnation) => ActorRef.make(this.endpoint(protocol, id, incarnation as number))
    )
  }

  private onReply(id: number, outcome: number, value: unknown): void {
    const p = this.pending.take(id)
    if (p === undefined) return // interrupted meanwhile
    if (p instanceof PendingCall) return p.resume(decodeOutcome(p.actorId, p.method, outcome, value))
    if (p instanceof Relayed) return p.origin.relayBack(p, [F.REPLY, p.id, outcome, value], true)
    if (p instanceof PendingWatch) {
      const decoded = decodeTermination(value)
      return p.resume(
        Exit.isSuccess(decoded)
          ? decoded.value
          : new T.NodeDown({ node: this.peer, message: "a malformed termination notice" })
      )
    }
    if (p instanceof PendingInspect) {
      if (outcome !== F.OK) return p.resume(Exit.fail(codec.decodeActorErrorOrDecodeError(value)))
      const reports = decodeReports(value)
      if (Exit.isFailure(reports)) return this.brokenReply(p, "a malformed inspection report")
      return p.resume(Exit.succeed(reports.value))
    }
    if (p instanceof PendingControl) {
      if (outcome !== F.OK) return p.resume(Exit.fail(codec.decodeActorErrorOrDecodeError(value)))
      if (value !== null && (typeof value !== "number" || !Number.isInteger(value))) {
        return this.brokenReply(p, "a control REPLY must carry an incarnation or null")
      }
      return p.resume(Exit.succeed(value))
    }
    this.protocolError("REPLY to a stream request")
  }

  /**
   * A reply that breaks the protocol closes the link; the request it answered was already taken from
   * `pending`, so the link's failure would not reach it: it gets that failure here.
   */
  private brokenReply(p: PendingInspect | PendingControl, message: string): void {
    this.protocolError(message)
    p.resume(Exit.fail(this.closeError!))
  }

  private onChunk(id: number, elements: Array<unknown>): void {
    const p = this.pending.get(id)
    if (p instanceof Relayed) return p.origin.relayBack(p, [F.CHUNK, p.id, elements], false)
    if (!(p instanceof PendingStream)) return // ended or interrupted meanwhile
    const decoded: Array<unknown> = new Array(elements.length)
    for (let i = 0; i < elements.length; i++) {
      const exit = codec.decode(p.actorId, p.method, "stream", elements[i])
      if (Exit.isFailure(exit)) {
        this.pending.delete(id)
        this.write([F.INTERRUPT, id])
        Queue.offerAllUnsafe(p.queue, decoded.slice(0, i))
        Queue.failCauseUnsafe(p.queue, exit.cause)
        return
      }
      decoded[i] = exit.value
    }
    Queue.offerAllUnsafe(p.queue, decoded)
  }

  private onEnd(id: number, outcome: number, value: unknown): void {
    const p = this.pending.get(id)
    if (p instanceof Relayed) {
      this.pending.delete(id)
      return p.origin.relayBack(p, [F.END, p.id, outcome, value], true)
    }
    if (!(p instanceof PendingStream)) return
    this.pending.delete(id)
    if (outcome === F.OK) {
      Queue.endUnsafe(p.queue as Queue.Queue<unknown, Cause.Done>)
      return
    }
    const exit = decodeOutcome(p.actorId, p.method, outcome, value)
    Queue.failCauseUnsafe(p.queue, Exit.isFailure(exit) ? exit.cause : Cause.die("stream END carried a success"))
  }

  // ---------------------------------------------------------------- relaying

  /**
   * A request for node `dst` (a ref that travelled inside a message): handled here if this is `dst`,
   * else forwarded towards it under an id of this node's, its answers relayed back unread. Payloads and
   * replies stay encoded: a node on the way need not know the protocol.
   */
  private onVia(dst: string, request: Array<any>): void {
    const system = this.options.host.system
    if (dst === system.nodeId) return this.dispatch(request)
    const type = request[0] as number
    const next = system.router.route(dst)
    if (next === undefined || next === this || next.status !== "open") {
      // a session of a served client routes nowhere but back to it: its refs reach only its own tree
      if (type === F.CAST && typeof request[5] === "string") {
        const message = `no route to node ${dst}`
        this.dropCast(Letters.castLost(request[1], request[5], String(request[3]), "Unreachable", message, dst))
        return system.router.sendRouted([F.CAST_ACK, request[5], dst, request[1], 1])
      }
      return this.answerUnreachable(type, request[1], dst)
    }
    const frame = request.slice()
    if (type === F.CAST && typeof request[5] === "string") next.relayedCast(request[5], dst, request[1], 1)
    if (type !== F.CAST) {
      const id = next.newId()
      const forwarded = new Forwarded(next, id)
      next.pending.set(id, new Relayed(this, request[1], type, forwarded))
      this.inbound.set(request[1], forwarded)
      frame[1] = id
    }
    next.write(next.peer === dst ? frame : [F.VIA, dst, frame])
  }

  /** Sends an answer from further on back to where the request came from. */
  private relayBack(relayed: Relayed, frame: Array<unknown>, last: boolean): void {
    if (last && this.inbound.get(relayed.id) === relayed.forwarded) this.inbound.delete(relayed.id)
    this.write(frame)
  }

  /** @internal the origin side gave the request up (INTERRUPT, or its link closed): stop relaying it */
  dropRelayed(id: number): void {
    if (this.pending.delete(id)) this.write([F.INTERRUPT, id])
  }

  /** The link a relayed request went out on failed: answer it here, as the peer would have. */
  private answerRelayed(relayed: Relayed, error: ActorError.ActorError, down: Termination): void {
    if (this.inbound.get(relayed.id) !== relayed.forwarded) return
    this.inbound.delete(relayed.id)
    this.answerWith(relayed.type, relayed.id, error, down)
  }

  private answerUnreachable(type: number, id: number, dst: string): void {
    const message = `no route to node ${dst}`
    const error = ActorError.make(new ActorError.Unreachable({ node: dst, message }))
    this.answerWith(type, id, error, new T.NodeDown({ node: dst, message }))
  }

  private answerWith(type: number, id: number, error: ActorError.ActorError, down: Termination): void {
    if (type === F.CALL || type === F.STOP) this.replyError(F.REPLY, id, error)
    else if (type === F.STREAM) this.replyError(F.END, id, error)
    else if (type === F.WATCH) this.write([F.REPLY, id, F.OK, encodeTermination(down)])
  }

  // ---------------------------------------------------------------- server role

  private replyError(type: number, id: number, error: ActorError.ActorError): void {
    this.write([type, id, F.ACTOR_ERROR, codec.encodeActorError(error)])
  }

  /** Finds the actor and method a request names; answers with the error when it cannot. */
  private target(
    type: number,
    id: number,
    actorId: string,
    incarnation: number,
    methodName: string,
    kind: Method["kind"]
  ): { cell: Cell; method: Method } | undefined {
    const cell = this.options.host.system.cellOf(actorId)
    if (cell === undefined || cell.incarnation !== incarnation) {
      // the incarnation this ref named is gone (maybe replaced by a new actor under the same id)
      if (id >= 0) this.replyError(type, id, ActorError.make(new ActorError.Stopped({ actorId })))
      return undefined
    }
    const method = cell.protocol.methodMap.get(methodName) as Method | undefined
    if (method === undefined || method.kind !== kind) {
      if (id >= 0) {
        this.replyError(
          type,
          id,
          ActorError.make(new ActorError.UnknownMethod({ actorId, protocol: cell.protocol.name, method: methodName }))
        )
      }
      return undefined
    }
    return { cell, method }
  }

  private onCall(
    id: number,
    actorId: string,
    incarnation: number,
    methodName: string,
    payload: unknown,
    chain: ReadonlyArray<string> | undefined,
    trace: Trace.Encoded | undefined
  ): void {
    const target = this.target(F.REPLY, id, actorId, incarnation, methodName, "call")
    if (target === undefined) return
    const { cell, method } = target
    const decoded = codec.decode(actorId, method, "payload", payload)
    if (Exit.isFailure(decoded)) return this.replyError(F.REPLY, id, failureOf(decoded))
    const env = new Envelope(method, decoded.value, (exit) => {
      if (this.inbound.delete(id)) this.write(encodeOutcome(F.REPLY, id, actorId, method, exit))
    })
    env.chain = chain
    if (trace !== undefined) env.parent = Trace.decode(trace)
    this.inbound.set(id, env)
    const sent = cell.send(env)
    if (sent === Admitted || sent === WaitingForRoom) {
      if (chain === undefined || cell.current === undefined || !closesCycle(env, cell)) return
      cell.cancel(env)
      this.inbound.delete(id)
      const reason = new ActorError.Deadlock({ actorId, method: method.name, cycle: true })
      return this.replyError(F.REPLY, id, ActorError.make(reason))
    }
    this.inbound.delete(id)
    this.replyError(F.REPLY, id, sent === Full ? mailboxFull(cell) : cell.stoppedError)
  }

  private onCast(
    actorId: string,
    incarnation: number,
    methodName: string,
    payload: unknown,
    src: string | undefined,
    trace: Trace.Encoded | undefined
  ): void {
    // acknowledged once it is in the mailbox, or at once if it never will be: the caster's credit
    const from = src ?? this.peer
    const target = this.target(F.REPLY, -1, actorId, incarnation, methodName, "cast")
    // the letters are described by deadletters.ts from values: never a closure over this frame's scope
    if (target === undefined) {
      const cell = this.options.host.system.cellOf(actorId)
      const protocol = cell === undefined || cell.incarnation !== incarnation ? undefined : cell.protocol.name
      this.dropCast(Letters.castUnknown(actorId, from, protocol, methodName))
      return this.ackCast(src, actorId)
    }
    const { cell, method } = target
    const decoded = codec.decode(actorId, method, "payload", payload)
    if (Exit.isFailure(decoded)) {
      const name = `${cell.protocol.name}.${methodName}`
      this.dropCast(Letters.castFailed(actorId, from, name, failureOf(decoded)))
      return this.ackCast(src, actorId)
    }
    const env = new Envelope(method, decoded.value, undefined)
    env.from = from
    if (trace !== undefined) env.parent = Trace.decode(trace)
    const sent = cell.send(env)
    if (sent === WaitingForRoom) {
      env.onAdmit = (ok) => this.admitted(ok, cell, methodName, src, from)
      return
    }
    if (sent === Full) {
      this.dropCast(Letters.castRefused(actorId, from, cell.protocol.name, methodName, cell.capacity))
    } else if (sent !== Admitted) {
      this.dropCast(Letters.castFailed(actorId, from, `${cell.protocol.name}.${methodName}`, cell.stoppedError))
    }
    this.ackCast(src, actorId)
  }

  /** A cast that waited for room is in the mailbox, or never will be (its actor stopped or was killed). */
  private admitted(ok: boolean, cell: Cell, methodName: string, src: string | undefined, from: string): void {
    if (!ok) {
      const error = cell.killed ? ActorError.make(new ActorError.Killed({ actorId: cell.id })) : cell.stoppedError
      this.dropCast(Letters.castFailed(cell.id, from, `${cell.protocol.name}.${methodName}`, error))
    }
    this.ackCast(src, cell.id)
  }

  /**
   * A cast dropped on its way or at its actor, with no caster to tell: a dead letter. What it was and why
   * is worked out only if the letter is logged or published: a flood of refused casts costs a count.
   */
  private dropCast(describe: () => Letter): void {
    this.options.host.system.router.deadLetter(describe, this.runFork)
  }

  private onStream(
    id: number,
    actorId: string,
    incarnation: number,
    methodName: string,
    payload: unknown,
    credit: number,
    trace: Trace.Encoded | undefined
  ): void {
    const target = this.target(F.END, id, actorId, incarnation, methodName, "stream")
    if (target === undefined) return
    const { cell, method } = target
    const decoded = codec.decode(actorId, method, "payload", payload)
    if (Exit.isFailure(decoded)) return this.replyError(F.END, id, failureOf(decoded))
    const state = new InboundStream(credit)
    const env = new Envelope(method, decoded.value, (exit) => {
      state.env = undefined
      if (this.inbound.get(id) !== state) return
      if (Exit.isFailure(exit)) {
        this.inbound.delete(id)
        return this.write(encodeOutcome(F.END, id, actorId, method, exit))
      }
      this.runStream(id, actorId, method, state, exit.value as Stream.Stream<unknown, unknown>)
    })
    state.env = env
    if (trace !== undefined) env.parent = Trace.decode(trace)
    this.inbound.set(id, state)
    const sent = cell.send(env)
    if (sent === Admitted || sent === WaitingForRoom) return
    this.inbound.delete(id)
    this.replyError(F.END, id, sent === Full ? mailboxFull(cell) : cell.stoppedError)
  }

  private runStream(
    id: number,
    actorId: string,
    method: Method,
    state: InboundStream,
    stream: Stream.Stream<unknown, unknown>
  ): void {
    // checks the credit again as it suspends: DEMAND may have come while the fiber yielded between
    // finding none and waiting (see Waiters in router.ts)
    const waitForCredit = Effect.callback<void>((resume) => {
      if (state.credit > 0) return resume(Exit.void)
      state.wake = () => {
        state.wake = undefined
        resume(Exit.void)
      }
    })
    const send = (elements: ReadonlyArray<unknown>): Effect.Effect<void, ActorError.ActorError> =>
      Effect.suspend(() => {
        if (state.credit === 0) return Effect.andThen(waitForCredit, send(elements))
        const n = Math.min(state.credit, elements.length)
        const encoded: Array<unknown> = new Array(n)
        for (let i = 0; i < n; i++) {
          const exit = codec.encode(actorId, method, "stream", elements[i])
          if (Exit.isFailure(exit)) return exit
          encoded[i] = exit.value
        }
        state.credit -= n
        this.write([F.CHUNK, id, encoded])
        return n === elements.length ? Exit.void : send(elements.slice(n))
      })
    const fiber = this.runFork(
      Stream.runForEachArray(stream, send).pipe(
        Effect.onExit((exit) =>
          Effect.sync(() => {
            if (this.inbound.get(id) !== state) return
            this.inbound.delete(id)
            if (Exit.isSuccess(exit)) this.write([F.END, id, F.OK, null])
            else if (!Cause.hasInterruptsOnly(exit.cause)) {
              const error = streamFailure(actorId, method, exit.cause)
              this.write(encodeOutcome(F.END, id, actorId, method, Exit.fail(error)))
            }
          })
        )
      )
    )
    if (fiber.pollUnsafe() === undefined) state.fiber = fiber
  }

  private onDemand(id: number, n: number): void {
    const state = this.inbound.get(id)
    if (state instanceof Forwarded) return state.next.write([F.DEMAND, state.id, n])
    if (!(state instanceof InboundStream)) return
    state.credit += n
    state.wake?.()
  }

  private onInterrupt(id: number): void {
    const entry = this.inbound.take(id)
    if (entry === undefined) return
    cancelInbound(entry)
  }

  private onSpawn(
    id: number,
    protocolName: string,
    actorId: string,
    capacity: number | null,
    overflow: "suspend" | "fail" | null,
    getOrSpawn: boolean,
    encodedSupervision: unknown,
    idle: number | null
  ): void {
    const supervision = Supervision.decode(encodedSupervision)
    if (supervision === "invalid") return this.protocolError("malformed supervision in SPAWN")
    const idleTimeout = idle === null ? undefined : Duration.millis(idle)
    const behaviour = this.options.host.behaviours.get(protocolName)
    if (behaviour === undefined) {
      return this.replyError(F.REPLY, id, ActorError.make(new ActorError.UnknownProtocol({ protocol: protocolName })))
    }
    const system = this.options.host.system
    const mailbox = {
      ...(capacity !== null ? { capacity } : {}),
      ...(overflow !== null ? { overflow } : {})
    }
    const spawn = getOrSpawn
      ? system.getOrSpawnFrom(behaviour.protocol, behaviour, { id: actorId, mailbox, supervision, idleTimeout })
      : system.spawnFrom(behaviour.protocol, behaviour, { id: actorId, mailbox, supervision, idleTimeout })
    this.runFork(
      Effect.exit(spawn).pipe(
        Effect.map((exit) => {
          if (Exit.isFailure(exit)) return this.replyError(F.REPLY, id, failureOf(exit))
          const cell = system.cellOf(actorId)
          this.write([F.REPLY, id, F.OK, cell?.incarnation ?? 0])
        })
      )
    )
  }

  private onLookup(id: number, protocolName: string, actorId: string): void {
    const cell = this.options.host.system.cellOf(actorId)
    if (cell === undefined || !cell.isAccepting) {
      return this.replyError(F.REPLY, id, ActorError.make(new ActorError.NotFound({ actorId, protocol: protocolName })))
    }
    if (cell.protocol.name !== protocolName) {
      return this.replyError(
        F.REPLY,
        id,
        ActorError.make(
          new ActorError.ProtocolMismatch({ actorId, expected: protocolName, actual: cell.protocol.name })
        )
      )
    }
    cell.touch()
    this.write([F.REPLY, id, F.OK, cell.incarnation])
  }

  /**
   * Reports this node, then the nodes behind its other links (`hops` further at most), waiting for them
   * `budget` ms at most: a node that does not answer in time is reported as unanswered, and gets a
   * smaller budget for its own neighbours, so that every hop answers before the one before it gives up.
   */
  private onInspect(id: number, hops: number, budget: number): void {
    if (this.options.inspectable !== true) {
      const message = "this node is not inspectable by its peer on this link"
      return this.replyError(F.REPLY, id, ActorError.make(new ActorError.Unauthorized({ node: this.peer, message })))
    }
    if (this.inspecting !== undefined) {
      if (this.inspecting.length < maxInspectWaiters) return void this.inspecting.push(id)
      const message = "too many inspections from this peer at once; ask again when they have been answered"
      return this.replyError(F.REPLY, id, ActorError.make(new ActorError.Unreachable({ node: this.peer, message })))
    }
    const host = this.options.host
    const own = reportOf(host.system, Array.from(host.behaviours.keys()))
    const others = hops > 0 ? host.system.router.inspectable : []
    if (others.length === 0) return this.write([F.REPLY, id, F.OK, [own]])
    const waiting = (this.inspecting = [id])
    this.runFork(
      inspectAll(others, hops - 1, budget).pipe(
        Effect.map((reports) => {
          const answer = capActors(distinct([own, ...reports]))
          for (const waiter of waiting) this.write([F.REPLY, waiter, F.OK, answer])
        }),
        Effect.ensuring(Effect.sync(() => (this.inspecting = undefined)))
      )
    )
  }

  private onWatch(id: number, actorId: string, incarnation: number): void {
    const system = this.options.host.system
    const cell = system.cellOf(actorId)
    const answer = (t: Termination) => this.write([F.REPLY, id, F.OK, encodeTermination(t)])
    if (cell === undefined || cell.incarnation !== incarnation) return answer(system.terminationOf(incarnation))
    cell.whenTerminated(answer)
  }

  private onStop(id: number, actorId: string, incarnation: number, kill: boolean): void {
    const cell = this.options.host.system.cellOf(actorId)
    if (cell === undefined || cell.incarnation !== incarnation) return this.write([F.REPLY, id, F.OK, null])
    if (kill) cell.kill()
    else cell.stop()
    cell.whenTerminated(() => this.write([F.REPLY, id, F.OK, null]))
  }
}

const cancelInbound = (entry: Envelope | InboundStream | Forwarded): void => {
  if (entry instanceof Forwarded) {
    entry.next.dropRelayed(entry.id)
  } else if (entry instanceof InboundStream) {
    entry.fiber?.interruptUnsafe()
    if (entry.env !== undefined) entry.env.owner?.cancel(entry.env)
  } else {
    entry.owner?.cancel(entry)
  }
}

const mailboxFull = (cell: Cell) =>
  ActorError.make(new ActorError.MailboxFull({ actorId: cell.id, capacity: cell.capacity }))

const failureOf = (exit: Exit.Failure<unknown, unknown>): ActorError.ActorError => {
  for (const r of exit.cause.reasons) {
    if (r._tag === "Fail" && ActorError.isActorError(r.error)) return r.error
  }
  return ActorError.make(
    new ActorError.Defect({ actorId: "", method: "", name: "Error", message: Cause.pretty(exit.cause) })
  )
}

const streamFailure = (actorId: string, method: Method, cause: Cause.Cause<unknown>): unknown =>
  ActorError.fromCause(actorId, method.name, cause)

/** Encodes a handler's outcome as a REPLY or END frame. */
const encodeOutcome = (
  type: number,
  id: number,
  actorId: string,
  method: Method,
  exit: Exit.Exit<unknown, unknown>
): Array<unknown> => {
  if (Exit.isSuccess(exit)) {
    const encoded = codec.encode(actorId, method, "success", exit.value)
    return Exit.isSuccess(encoded)
      ? [type, id, F.OK, encoded.value]
      : [type, id, F.ACTOR_ERROR, codec.encodeActorError(failureOf(encoded))]
  }
  let error: unknown = undefined
  for (const r of exit.cause.reasons) {
    if (r._tag === "Fail") {
      error = r.error
      break
    }
  }
  if (error === undefined) error = ActorError.fromCause(actorId, method.name, exit.cause)
  if (ActorError.isActorError(error)) return [type, id, F.ACTOR_ERROR, codec.encodeActorError(error)]
  const encoded = codec.encode(actorId, method, "error", error)
  return Exit.isSuccess(encoded)
    ? [type, id, F.FAILURE, encoded.value]
    : [type, id, F.ACTOR_ERROR, codec.encodeActorError(failureOf(encoded))]
}

/** Decodes the outcome carried by a REPLY or END frame. */
const decodeOutcome = (
  actorId: string,
  method: Method,
  outcome: number,
  value: unknown
): Exit.Exit<unknown, unknown> => {
  if (outcome === F.OK) return codec.decode(actorId, method, "success", value)
  if (outcome === F.FAILURE) {
    const decoded = codec.decode(actorId, method, "error", value)
    return Exit.isSuccess(decoded) ? Exit.fail(decoded.value) : decoded
  }
  return Exit.fail(codec.decodeActorErrorOrDecodeError(value, actorId, method.name))
}

/** The endpoint of an actor on the other side of a link. */
class RemoteEndpoint implements ActorRef.Endpoint {
  private readonly link: Link
  /** The node the actor lives on (a reconnected link to another node must not reach it). */
  private readonly node: string
  readonly protocol: Protocol.Any
  readonly id: string
  readonly incarnation: number
  /** Set when the actor is beyond the link's peer: requests travel relayed, on this very link. */
  private readonly via: string | undefined
  constructor(
    link: Link,
    node: string,
    protocol: Protocol.Any,
    id: string,
    incarnation: number,
    via: string | undefined
  ) {
    this.link = link
    this.node = node
    this.protocol = protocol
    this.id = id
    this.incarnation = incarnation
    this.via = via
  }
  get location(): string {
    return this.node
  }
  get address(): ActorRef.Address {
    return { node: this.node, incarnation: this.incarnation }
  }
  private current(): Link | ActorError.ActorError {
    return this.via === undefined ? this.link.resolve(this.node) : this.link
  }
  private with<A, E>(f: (link: Link) => Effect.Effect<A, E>): Effect.Effect<A, E | ActorError.ActorError> {
    return Effect.suspend((): Effect.Effect<A, E | ActorError.ActorError> => {
      const link = this.current()
      return link instanceof Link ? f(link) : Exit.fail(link)
    })
  }
  call(method: Method, payload: unknown) {
    return Effect.callback<unknown, unknown>((resume) => {
      const link = this.current()
      if (link instanceof Link) return link.register(this.id, this.incarnation, method, payload, resume, this.via)
      resume(Exit.fail(link))
    })
  }
  cast(method: Method, payload: unknown) {
    return this.with((link) => link.cast(this.id, this.incarnation, method, payload, this.via))
  }
  stream(method: Method, payload: unknown): Stream.Stream<unknown, unknown> {
    return Stream.unwrap(
      Effect.map(
        this.with((link) => Effect.succeed(link)),
        (link) => link.stream(this.id, this.incarnation, method, payload, this.via)
      )
    )
  }
  get stop(): Effect.Effect<void, ActorError.ActorError> {
    return this.terminate(false)
  }
  get kill(): Effect.Effect<void, ActorError.ActorError> {
    return this.terminate(true)
  }
  private terminate(kill: boolean): Effect.Effect<void, ActorError.ActorError> {
    return this.with((link) =>
      Effect.asVoid(link.control((req) => [F.STOP, req, this.id, this.incarnation, kill], this.via))
    )
  }
  get watch(): Effect.Effect<Termination> {
    return Effect.suspend(() => {
      const link = this.current()
      return link instanceof Link
        ? link.watch(this.id, this.incarnation, this.via)
        : Exit.succeed(new T.NodeDown({ node: this.node, message: link.message }))
    })
  }
}

const encodeTerminationExit = Schema.encodeUnknownExit(T.Termination)
const decodeTermination = Schema.decodeUnknownExit(T.Termination)
const encodeTermination = (t: Termination): unknown => {
  const exit = encodeTerminationExit(t)
  return Exit.isSuccess(exit) ? exit.value : { _tag: "Stopped" }
}
