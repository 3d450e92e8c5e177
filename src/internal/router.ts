/**
 * The router of one node: it moves channel messages and topic publications between the node and its
 * links. Node ids are hierarchical ("n-3f9a/worker-1.0"), so a frame for another node goes down the
 * link whose peer id prefixes the destination, or up to the parent: worker to worker, child to remote
 * host and back all work through the hub. Channels use credit per sender node (acks when the receiver
 * takes a message); topics travel only to neighbours that asked for them, with credit per link.
 */
import { Cause, Effect, Exit, Queue, Stream, type Scope } from "effect"
import { randomId } from "./id.ts"
import * as ActorError from "../ActorError.ts"
import type { Link } from "./wire/link.ts"
import type { NodeReport } from "./report.ts"
import * as F from "./wire/frame.ts"
import * as codec from "./codec.ts"
import type { Schema } from "effect"
import * as Letters from "./deadletters.ts"
import { DeadLetter, type Letter, logged, recentKept, subject as deadLetterSubject } from "./deadletters.ts"

/** A channel or topic as the router sees it: a name and the Schema of its messages. */
export interface Subject {
  readonly name: string
  readonly schema: Schema.Top
}

/** Messages a remote sender node may have in flight to one inbox before the receiver acks. */
export const CHANNEL_WINDOW = 128
/** Publications a node may have in flight to one neighbour on one topic before it acks. */
export const TOPIC_WINDOW = 256

/** Where a channel's inbox lives. */
export interface EndpointAddress {
  readonly node: string
  readonly id: string
  readonly channel: string
}

/**
 * A FIFO of suspended fibers waiting for credit (or room). A fiber that `wakeOne` woke takes the credit
 * that woke it even though others still wait: were it to queue again behind them, an ack smaller than
 * the number of waiters would leave its credit unused, and with nothing left in flight to bring more
 * acks, every sender would wait for ever (eight concurrent publishers did, at exactly one window).
 */
class Waiters {
  /** Fibers waiting in any Waiters of this process, for diagnostics (stats). */
  static waiting = 0
  private list: Array<(ok: boolean) => void> = []
  get size(): number {
    return this.list.length
  }
  /**
   * Suspends until `wake(true)` (continue) or `wake(false)` (give up), or returns true at once if
   * `ready()` says that what the caller waits for has come meanwhile. The caller decided to wait in an
   * earlier step, and a fiber may yield to the event loop between two steps (its op budget runs out):
   * an acknowledgement handled in that gap found nobody to wake, so the wait must look again before it
   * suspends. Without this a publisher waited for ever with the whole window in hand.
   */
  wait(ready: () => boolean): Effect.Effect<boolean> {
    return Effect.callback<boolean>((resume) => {
      if (ready()) return resume(Exit.succeed(true))
      const cb = (ok: boolean) => {
        Waiters.waiting--
        resume(Exit.succeed(ok))
      }
      Waiters.waiting++
      this.list.push(cb)
      return Effect.sync(() => {
        const i = this.list.indexOf(cb)
        if (i >= 0) {
          this.list.splice(i, 1)
          Waiters.waiting--
        }
      })
    })
  }
  wakeOne(ok = true): void {
    this.list.shift()?.(ok)
  }
  wakeAll(ok: boolean): void {
    for (const cb of this.list.splice(0)) cb(ok)
  }
}

// ------------------------------------------------------------------ channels

interface Item {
  readonly value: unknown
  /** The sender's node, or undefined for a local sender. */
  readonly from: string | undefined
}

/** The receiving side of a channel on this node. */
export class Inbox {
  readonly id = randomId()
  readonly subject: Subject
  readonly queue: Queue.Queue<Item, Cause.Done | ActorError.ActorError>
  /** Room left for local senders (remote senders are bounded by their credit instead). */
  room: number
  /** Local senders waiting for room, in order. */
  readonly roomWaiters = new Waiters()
  /** Messages taken per remote sender node, not yet acknowledged. */
  private readonly unacked = new Map<string, number>()
  /** Nodes that opened a sender session: told when the inbox closes. */
  readonly senders = new Set<string>()
  closed = false
  /** Messages the receiver has taken, for the inspector. */
  received = 0
  readonly capacity: number
  private readonly router: Router

  constructor(
    router: Router,
    subject: Subject,
    queue: Queue.Queue<Item, Cause.Done | ActorError.ActorError>,
    capacity: number
  ) {
    this.router = router
    this.subject = subject
    this.queue = queue
    this.room = capacity
    this.capacity = capacity
  }

  get address(): EndpointAddress {
    return { node: this.router.nodeId, id: this.id, channel: this.subject.name }
  }

  /** Called for each message the receiver takes: frees room, or credit for its remote sender. */
  taken(item: Item): void {
    this.received++
    if (item.from === undefined) {
      this.room++
      return this.roomWaiters.wakeOne()
    }
    const n = (this.unacked.get(item.from) ?? 0) + 1
    if (n >= CHANNEL_WINDOW / 2) {
      this.unacked.delete(item.from)
      this.router.sendRouted([F.CH_ACK, item.from, this.router.nodeId, this.id, n])
    } else {
      this.unacked.set(item.from, n)
    }
  }
}

/** This node's session with a remote inbox: the credit it has, and who waits for it. */
class Sender {
  status: "opening" | "open" | "closed" = "opening"
  credit = 0
  error: ActorError.ActorError | undefined = undefined
  readonly waiters = new Waiters()
  readonly address: EndpointAddress
  /** The link the session's frames leave by (its failure ends the session). */
  link: Link | undefined
  constructor(address: EndpointAddress, link: Link | undefined) {
    this.address = address
    this.link = link
  }
}

// ------------------------------------------------------------------ topics

interface Subscriber {
  readonly queue: Queue.Queue<unknown>
}

/** Credit towards a neighbour, and no publisher waiting for it before this one. */
const canSendNow = (interest: { readonly credit: number; readonly waiters: Waiters }): boolean =>
  interest.credit > 0 && interest.waiters.size === 0

/** A topic as one node knows it. */
class TopicState {
  readonly subject: Subject
  readonly subscribers = new Set<Subscriber>()
  /** Neighbours that asked for this topic, with the credit this node has towards each. */
  readonly interested = new Map<Link, { credit: number; readonly waiters: Waiters }>()
  /** Neighbours this node asked for the topic. */
  readonly advertised = new Set<Link>()
  /** Inbound publications per neighbour, handled one at a time to keep each publisher's order. */
  readonly inbound = new Map<Link, { readonly queue: Array<unknown>; running: boolean; acks: number }>()
  /** Publications that went through this node, and their hand-overs to local subscribers (inspector). */
  publications = 0
  deliveries = 0
  constructor(subject: Subject) {
    this.subject = subject
  }
}

// ------------------------------------------------------------------ the router

/** The router of one node (one ActorSystem). */
export class Router {
  readonly nodeId: string
  private readonly links = new Set<Link>()
  private readonly inboxes = new Map<string, Inbox>()
  private readonly senders = new Map<string, Sender>()
  /**
   * Channel sessions between two other nodes that pass through this one, and opens on their way: kept so
   * that when the inbox's node goes away behind one of this node's links, the sender (which only hears
   * from its own neighbours) is told, rather than left waiting for credit or an answer for ever.
   */
  private readonly relayedOpens = new Map<string, RelayedOpen>()
  private readonly relayedSessions = new Map<string, RelayedSession>()
  private readonly pendingOpens = new Map<number, (exit: Exit.Exit<number, ActorError.ActorError>) => void>()
  private nextOpen = 0
  private readonly topics = new Map<string, TopicState>()
  /** Messages this node dropped with no sender left to tell (see deadletters.ts). */
  deadLetters = 0
  /** The latest dead letters, kept as when and how to describe them: the inspector builds the few it shows. */
  private readonly recentAt: Array<number> = []
  private readonly recentLetters: Array<() => Letter> = []
  /** Subjects by name, as declared in this process (to decode what arrives for them). */
  private readonly subjects: (name: string, kind: "channel" | "topic") => Subject | undefined

  constructor(nodeId: string, subjects: (name: string, kind: "channel" | "topic") => Subject | undefined) {
    this.nodeId = nodeId
    this.subjects = subjects
  }

  /** What the router holds, for diagnostics and leak tests. */
  stats(): {
    readonly links: number
    /** Per link: its peer, status, requests in flight each way, frames not yet sent. */
    readonly linkDetail: ReadonlyArray<string>
    readonly inboxes: number
    readonly senders: number
    readonly topics: ReadonlyArray<{
      readonly name: string
      readonly subscribers: number
      readonly interested: number
      /** Per neighbour: the credit towards it, who waits for credit, publications from it not yet handled. */
      readonly flow: ReadonlyArray<string>
    }>
  } {
    const flow = (t: TopicState): Array<string> => {
      const out: Array<string> = []
      for (const [link, i] of t.interested) out.push(`to ${link.peer}: credit ${i.credit}, ${i.waiters.size} waiting`)
      for (const [link, i] of t.inbound) {
        out.push(`from ${link.peer}: ${i.queue.length} queued, ${i.running ? "running" : "idle"}, ${i.acks} unacked`)
      }
      for (const link of t.advertised) out.push(`advertised to ${link.peer}`)
      for (const { queue: q } of t.subscribers) {
        const offers = q.state._tag === "Done" ? 0 : q.state.offers.size
        out.push(`local ${q.strategy} ${q.messages.length}/${q.capacity}, ${offers} offers waiting, ${q.state._tag}`)
      }
      out.push(`${Waiters.waiting} fibers waiting for credit or room in this process`)
      return out
    }
    return {
      links: this.links.size,
      linkDetail: Array.from(this.links, (link) => link.describe()),
      inboxes: this.inboxes.size,
      senders: this.senders.size,
      topics: Array.from(this.topics.values(), (t) => ({
        name: t.subject.name,
        subscribers: t.subscribers.size,
        interested: t.interested.size,
        flow: flow(t)
      }))
    }
  }

  /** The channels and topics of this node, and its links, as the inspector reports them. */
  report(): Pick<NodeReport, "channels" | "topics" | "links" | "deadLetters" | "recentDeadLetters"> {
    return {
      channels: Array.from(this.inboxes.values(), (inbox) => ({
        name: inbox.subject.name,
        id: inbox.id,
        queued: Queue.sizeUnsafe(inbox.queue),
        capacity: inbox.capacity,
        received: inbox.received,
        senders: inbox.senders.size
      })),
      topics: Array.from(this.topics.values(), (t) => ({
        name: t.subject.name,
        subscribers: t.subscribers.size,
        neighbours: t.interested.size,
        publications: t.publications,
        deliveries: t.deliveries
      })),
      links: Array.from(this.links, (link) => link.report()),
      deadLetters: this.deadLetters,
      recentDeadLetters: this.recentDeadLetters()
    }
  }

  /**
   * The open links the inspector of this node asks: all but the one to the peer that may inspect this
   * node (its parent, or a session's client), which is asking rather than being asked.
   */
  get inspectable(): ReadonlyArray<Link> {
    return Array.from(this.links).filter((link) => link.status === "open" && !link.answersInspect)
  }

  // ---------------------------------------------------------------- links and routes

  /** A link to a neighbour has opened: it may now route and ask for topics. */
  attach(link: Link): void {
    this.links.add(link)
    for (const topic of this.topics.values()) this.advertise(topic)
  }

  /** A link has closed: sessions through it fail, its topic interest goes. */
  detach(link: Link, error: ActorError.ActorError): void {
    if (!this.links.has(link)) return
    // sessions this node relays towards nodes behind the link: their senders elsewhere must hear of it
    const lost = (node: string) => this.route(node) === link
    for (const [key, open] of this.relayedOpens) {
      if (lost(open.inboxNode)) {
        this.relayedOpens.delete(key)
        this.sendRouted([F.CH_OPENED, open.sender, this.nodeId, open.openId, false, unreachable(open.inboxNode)])
      } else if (lost(open.sender)) this.relayedOpens.delete(key)
    }
    for (const [key, session] of this.relayedSessions) {
      if (lost(session.inboxNode)) {
        this.relayedSessions.delete(key)
        this.sendRouted([F.CH_CLOSED, session.sender, session.inboxNode, session.inboxId])
      } else if (lost(session.sender)) this.relayedSessions.delete(key)
    }
    this.links.delete(link)
    for (const [key, sender] of this.senders) {
      if (sender.link === link) {
        this.senders.delete(key)
        this.closeSender(sender, error)
      }
    }
    for (const topic of this.topics.values()) {
      topic.advertised.delete(link)
      topic.inbound.delete(link)
      const interest = topic.interested.get(link)
      if (interest !== undefined) {
        topic.interested.delete(link)
        interest.waiters.wakeAll(false)
      }
      this.advertise(topic)
      this.forget(topic)
    }
  }

  /** The link towards `node`: a neighbour whose id is `node` or an ancestor of it, else the parent. */
  route(node: string): Link | undefined {
    // of two links to one peer (a client that reconnected while its old, half-open link lingers until
    // the heartbeat drops it) the newer wins: links iterate in the order they were attached
    let best: Link | undefined
    for (const link of this.links) {
      const peer = link.peer
      if (node === peer || node.startsWith(`${peer}/`)) {
        if (best === undefined || peer.length >= best.peer.length) best = link
      }
    }
    if (best !== undefined) return best
    for (const link of this.links) {
      if (this.nodeId.startsWith(`${link.peer}/`)) best = link
    }
    return best
  }

  /** Sends a routed frame ([type, dst, src, ...]) towards its destination, or handles it here. */
  sendRouted(frame: Array<unknown>): void {
    const dst = frame[1] as string
    if (dst === this.nodeId) return this.receiveRouted(undefined, frame)
    this.route(dst)?.send(frame)
  }

  /** A frame for the router arrived on `link`. */
  receive(link: Link, frame: Array<any>): void {
    switch (frame[0]) {
      case F.CH_OPEN:
      case F.CH_OPENED:
      case F.CH_MSG:
      case F.CH_ACK:
      case F.CH_CLOSED: {
        const dst: string = frame[1]
        if (dst === this.nodeId) return this.receiveRouted(link, frame)
        const next = this.route(dst)
        if (next !== undefined && next !== link) {
          this.relaying(frame)
          return next.send(frame)
        }
        // no way on: tell the source, so that its session fails instead of waiting
        if (frame[0] === F.CH_OPEN) {
          return this.sendRouted([F.CH_OPENED, frame[2], this.nodeId, frame[3], false, unreachable(dst)])
        }
        if (frame[0] === F.CH_MSG) return this.sendRouted([F.CH_CLOSED, frame[2], dst, frame[3]])
        return
      }
      case F.T_SUB:
        return this.onSubscribe(link, frame[1])
      case F.T_UNSUB:
        return this.onUnsubscribe(link, frame[1])
      case F.T_PUB:
        return this.onPublish(link, frame[1], frame[2])
      case F.T_ACK:
        return this.onTopicAck(link, frame[1], frame[2])
    }
  }

  /** Keeps track of the channel sessions this node relays (see relayedSessions). */
  private relaying(frame: Array<any>): void {
    switch (frame[0]) {
      case F.CH_OPEN:
        // [CH_OPEN, inbox node, sender, openId, inboxId, channel]
        this.relayedOpens.set(`${frame[2]}|${frame[3]}`, {
          sender: frame[2],
          inboxNode: frame[1],
          openId: frame[3],
          inboxId: frame[4]
        })
        return
      case F.CH_OPENED: {
        // [CH_OPENED, sender, inbox node, openId, ok, ...]
        const key = `${frame[1]}|${frame[3]}`
        const open = this.relayedOpens.get(key)
        if (open === undefined) return
        this.relayedOpens.delete(key)
        if (frame[4] === true) {
          const session = { sender: open.sender, inboxNode: open.inboxNode, inboxId: open.inboxId }
          this.relayedSessions.set(`${open.sender}|${open.inboxNode}|${open.inboxId}`, session)
        }
        return
      }
      case F.CH_CLOSED:
        // [CH_CLOSED, sender, inbox node, inboxId]
        this.relayedSessions.delete(`${frame[1]}|${frame[2]}|${frame[3]}`)
        return
    }
  }

  private receiveRouted(link: Link | undefined, frame: Array<any>): void {
    switch (frame[0]) {
      case F.CH_OPEN: {
        const inbox = this.inboxes.get(frame[4])
        if (inbox === undefined || inbox.closed || inbox.subject.name !== frame[5]) {
          return this.sendRouted([F.CH_OPENED, frame[2], this.nodeId, frame[3], false, closedError(frame[5])])
        }
        inbox.senders.add(frame[2])
        return this.sendRouted([F.CH_OPENED, frame[2], this.nodeId, frame[3], true, CHANNEL_WINDOW])
      }
      case F.CH_OPENED: {
        const resume = this.pendingOpens.get(frame[3])
        if (resume === undefined) return
        this.pendingOpens.delete(frame[3])
        return resume(
          frame[4] === true && typeof frame[5] === "number"
            ? Exit.succeed(frame[5])
            : Exit.fail(codec.decodeActorErrorOrDecodeError(frame[5]))
        )
      }
      case F.CH_MSG: {
        const inbox = this.inboxes.get(frame[3])
        // dead letters are described by deadletters.ts from values: a closure here would hold the frame
        if (inbox === undefined || inbox.closed) {
          const closed = Letters.channelLetter(frame[3], "", "ChannelClosed", "the inbox had closed", frame[2])
          this.deadLetter(closed, link?.runFork)
          return this.sendRouted([F.CH_CLOSED, frame[2], this.nodeId, frame[3]])
        }
        const decoded = codec.decodeWith(inbox.subject.schema, frame[4])
        // a message that fails the channel's Schema is dropped; its credit comes back at once
        if (Exit.isFailure(decoded)) {
          const name = inbox.subject.name
          this.deadLetter(
            Letters.channelLetter(frame[3], name, "DecodeError", issueOf(decoded), frame[2]),
            link?.runFork
          )
          return this.sendRouted([F.CH_ACK, frame[2], this.nodeId, frame[3], 1])
        }
        Queue.offerUnsafe(inbox.queue, { value: decoded.value, from: frame[2] })
        return
      }
      case F.CH_ACK: {
        const sender = this.senders.get(senderKey(frame[2], frame[3]))
        if (sender === undefined) return
        sender.credit += frame[4]
        for (let i = 0; i < frame[4] && sender.waiters.size > 0; i++) sender.waiters.wakeOne()
        return
      }
      case F.CH_CLOSED: {
        const key = senderKey(frame[2], frame[3])
        const sender = this.senders.get(key)
        if (sender === undefined) return
        this.senders.delete(key)
        this.closeSender(sender, ActorError.make(new ActorError.ChannelClosed({ channel: sender.address.channel })))
        return
      }
    }
  }

  // ---------------------------------------------------------------- channels

  /** Opens an inbox on this node; closing the scope closes it and tells its senders. */
  openInbox(subject: Subject, capacity: number): Effect.Effect<Inbox, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.map(Queue.unbounded<Item, Cause.Done | ActorError.ActorError>(), (queue) => {
        const inbox = new Inbox(this, subject, queue, capacity)
        this.inboxes.set(inbox.id, inbox)
        return inbox
      }),
      // the receiver's services log what it left unread (dead letters)
      (inbox) =>
        Effect.withFiber((fiber) => Effect.sync(() => this.closeInbox(inbox, Effect.runForkWith(fiber.context))))
    )
  }

  private closeInbox(inbox: Inbox, log?: (effect: Effect.Effect<void>) => unknown): void {
    if (inbox.closed) return
    inbox.closed = true
    this.inboxes.delete(inbox.id)
    // what the receiver left unread is lost to senders who were told it was sent
    for (let item = Queue.takeUnsafe(inbox.queue); item !== undefined && Exit.isSuccess(item);) {
      const from = item.value.from ?? this.nodeId
      const unread = "unread when the inbox closed"
      this.deadLetter(Letters.channelLetter(inbox.id, inbox.subject.name, "ChannelClosed", unread, from), log)
      item = Queue.takeUnsafe(inbox.queue)
    }
    Queue.failCauseUnsafe(inbox.queue, Cause.fail(closedChannel(inbox.subject.name)))
    inbox.roomWaiters.wakeAll(false)
    for (const node of inbox.senders) this.sendRouted([F.CH_CLOSED, node, this.nodeId, inbox.id])
  }

  /** Sends one message to an inbox anywhere; waits for room (local) or credit (remote). */
  send(address: EndpointAddress, subject: Subject, value: unknown): Effect.Effect<void, ActorError.ActorError> {
    return Effect.suspend(() => {
      if (address.node === this.nodeId) {
        const inbox = this.inboxes.get(address.id)
        if (inbox === undefined || inbox.closed) return Exit.fail(closedChannel(address.channel))
        return this.sendLocal(inbox, value)
      }
      const encoded = codec.encodeWith(subject.schema, value)
      if (Exit.isFailure(encoded)) {
        return Exit.fail(
          ActorError.make(
            new ActorError.DecodeError({
              actorId: address.id,
              method: address.channel,
              part: "payload",
              message: issueOf(encoded)
            })
          )
        )
      }
      return Effect.flatMap(this.sender(address), (sender) => this.sendWithCredit(sender, encoded.value))
    })
  }

  private sendLocal(inbox: Inbox, value: unknown, woken = false): Effect.Effect<void, ActorError.ActorError> {
    return Effect.suspend(() => {
      if (inbox.closed) return Exit.fail(closedChannel(inbox.subject.name))
      if (inbox.room > 0 && (woken || inbox.roomWaiters.size === 0)) {
        inbox.room--
        Queue.offerUnsafe(inbox.queue, { value, from: undefined })
        return Exit.void
      }
      return Effect.flatMap(
        inbox.roomWaiters.wait(() => inbox.closed || inbox.room > 0),
        (ok) => (ok ? this.sendLocal(inbox, value, true) : Exit.fail(closedChannel(inbox.subject.name)))
      )
    })
  }

  private sendWithCredit(sender: Sender, payload: unknown, woken = false): Effect.Effect<void, ActorError.ActorError> {
    return Effect.suspend(() => {
      if (sender.status === "closed") return Exit.fail(sender.error!)
      // FIFO: a sender that finds others waiting waits behind them (unless credit woke it: see Waiters)
      if (sender.credit > 0 && (woken || sender.waiters.size === 0)) {
        sender.credit--
        sender.link?.send([F.CH_MSG, sender.address.node, this.nodeId, sender.address.id, payload])
        return Exit.void
      }
      return Effect.flatMap(
        sender.waiters.wait(() => sender.status === "closed" || sender.credit > 0),
        (ok) => (ok ? this.sendWithCredit(sender, payload, true) : Exit.fail(sender.error!))
      )
    })
  }

  /** This node's session with a remote inbox, opened (one round trip) on first use. */
  private sender(address: EndpointAddress): Effect.Effect<Sender, ActorError.ActorError> {
    const key = senderKey(address.node, address.id)
    const existing = this.senders.get(key)
    if (existing !== undefined) {
      if (existing.status === "opening") {
        return Effect.flatMap(
          existing.waiters.wait(() => existing.status !== "opening"),
          () => (existing.status === "open" ? Exit.succeed(existing) : Exit.fail(existing.error!))
        )
      }
      return existing.status === "open" ? Exit.succeed(existing) : Exit.fail(existing.error!)
    }
    const link = this.route(address.node)
    if (link === undefined) return Exit.fail(unreachableError(address.node))
    const sender = new Sender(address, link)
    this.senders.set(key, sender)
    const id = ++this.nextOpen
    return Effect.callback<Sender, ActorError.ActorError>((resume) => {
      this.pendingOpens.set(id, (exit) => {
        if (Exit.isFailure(exit)) {
          this.senders.delete(key)
          const error = failureOf(exit)
          this.closeSender(sender, error)
          return resume(Exit.fail(error))
        }
        sender.status = "open"
        sender.credit = exit.value
        // those who waited for the session to open now queue for credit, in order
        sender.waiters.wakeAll(true)
        resume(Exit.succeed(sender))
      })
      link.send([F.CH_OPEN, address.node, this.nodeId, id, address.id, address.channel])
    })
  }

  private closeSender(sender: Sender, error: ActorError.ActorError): void {
    sender.status = "closed"
    sender.error = error
    sender.waiters.wakeAll(false)
  }

  // ---------------------------------------------------------------- topics

  private topic(subject: Subject): TopicState {
    let topic = this.topics.get(subject.name)
    if (topic === undefined) {
      topic = new TopicState(subject)
      this.topics.set(subject.name, topic)
    }
    return topic
  }

  /** Drops a topic that nobody here or around wants any more. */
  private forget(topic: TopicState): void {
    if (topic.subscribers.size === 0 && topic.interested.size === 0 && topic.advertised.size === 0) {
      this.topics.delete(topic.subject.name)
    }
  }

  /** Does anyone but `except` want this topic from here: a local subscriber, or another neighbour? */
  private wants(topic: TopicState, except: Link): boolean {
    if (topic.subscribers.size > 0) return true
    for (const link of topic.interested.keys()) if (link !== except) return true
    return false
  }

  /** Tells each neighbour whether this node now wants the topic (only when that changed). */
  private advertise(topic: TopicState): void {
    for (const link of this.links) {
      if (link.status !== "open") continue
      const want = this.wants(topic, link)
      if (want && !topic.advertised.has(link)) {
        topic.advertised.add(link)
        link.send([F.T_SUB, topic.subject.name])
      } else if (!want && topic.advertised.has(link)) {
        topic.advertised.delete(link)
        link.send([F.T_UNSUB, topic.subject.name])
      }
    }
  }

  /**
   * A message dropped with nobody to tell: counted, logged while there are few (`log` runs the warning
   * with the caller's services), and published to whoever subscribed to dead letters, without waiting.
   */
  deadLetter(describe: () => Letter, log: (effect: Effect.Effect<void>) => unknown = Effect.runFork): void {
    const n = ++this.deadLetters
    const slot = (n - 1) % recentKept
    const at = Date.now()
    this.recentAt[slot] = at
    this.recentLetters[slot] = describe
    const topic = this.topics.get(deadLetterSubject.name)
    // past the few it logs, a node with no one to hand the letter to only counts: it is never built
    const wanted = topic !== undefined && (topic.subscribers.size > 0 || this.hasCredit(topic))
    if (n > logged && !wanted) return
    const letter = describe()
    if (n <= logged) {
      const from = letter.from === null ? "" : ` from ${letter.from}`
      const more = n === logged ? " (further dead letters are counted, not logged: see the inspector)" : ""
      const what = `${letter.kind} ${letter.name || "(an inbox that closed)"} to "${letter.target}"${from}`
      log(
        Effect.logWarning(`troupe: dead letter on ${this.nodeId}: ${what}: ${letter.reason}: ${letter.message}${more}`)
      )
    }
    if (wanted) this.publishNow(topic, new DeadLetter({ ...letter, node: this.nodeId, at }))
  }

  /** A publication that never waits: a full subscriber buffer, or a neighbour out of credit, misses it. */
  private publishNow(topic: TopicState, value: unknown): void {
    const encoded = codec.encodeWith(topic.subject.schema, value)
    if (Exit.isFailure(encoded)) return
    topic.publications++
    for (const subscriber of topic.subscribers) if (Queue.offerUnsafe(subscriber.queue, value)) topic.deliveries++
    for (const [link, interest] of topic.interested) {
      if (canSendNow(interest)) {
        interest.credit--
        link.send([F.T_PUB, topic.subject.name, encoded.value])
      }
    }
  }

  /** The latest dead letters, oldest first. */
  private recentDeadLetters(): Array<Letter & { readonly at: number }> {
    const kept = Math.min(this.deadLetters, recentKept)
    const out: Array<Letter & { readonly at: number }> = []
    for (let i = this.deadLetters - kept; i < this.deadLetters; i++) {
      const slot = i % recentKept
      out.push({ ...this.recentLetters[slot]!(), at: this.recentAt[slot]! })
    }
    return out
  }

  private hasCredit(topic: TopicState): boolean {
    for (const interest of topic.interested.values()) if (canSendNow(interest)) return true
    return false
  }

  /** A local subscription: a buffer with its own policy, registered until the scope closes. */
  subscribe(
    subject: Subject,
    capacity: number,
    strategy: "suspend" | "sliding" | "dropping"
  ): Effect.Effect<Stream.Stream<unknown>, never, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.map(Queue.make<unknown>({ capacity, strategy }), (queue) => {
        const subscriber: Subscriber = { queue }
        const topic = this.topic(subject)
        topic.subscribers.add(subscriber)
        if (topic.subscribers.size === 1) this.advertise(topic)
        return subscriber
      }),
      (subscriber) =>
        Effect.sync(() => {
          const topic = this.topics.get(subject.name)
          Queue.shutdownUnsafe(subscriber.queue)
          if (topic === undefined) return
          topic.subscribers.delete(subscriber)
          if (topic.subscribers.size === 0) this.advertise(topic)
          this.forget(topic)
        })
    ).pipe(Effect.map((subscriber) => Stream.fromQueue(subscriber.queue)))
  }

  /** Publishes from this node: local subscribers first, then every neighbour that asked. */
  publish(subject: Subject, value: unknown): Effect.Effect<void, ActorError.ActorError> {
    return Effect.suspend(() => {
      const encoded = codec.encodeWith(subject.schema, value)
      if (Exit.isFailure(encoded)) {
        return Exit.fail(
          ActorError.make(
            new ActorError.DecodeError({
              actorId: "",
              method: subject.name,
              part: "payload",
              message: issueOf(encoded)
            })
          )
        )
      }
      const topic = this.topics.get(subject.name)
      if (topic === undefined) return Exit.void
      return this.deliver(topic, value, encoded.value, undefined)
    })
  }

  /** Hands one publication to the local subscribers and forwards it to interested neighbours. */
  private deliver(topic: TopicState, value: unknown, encoded: unknown, from: Link | undefined): Effect.Effect<void> {
    topic.publications++
    topic.deliveries += topic.subscribers.size
    const effects: Array<Effect.Effect<unknown>> = []
    for (const subscriber of topic.subscribers) effects.push(Queue.offer(subscriber.queue, value))
    for (const [link, interest] of topic.interested) {
      if (link !== from) effects.push(this.forward(topic, link, interest, encoded))
    }
    return effects.length === 0 ? Effect.void : Effect.asVoid(Effect.all(effects, { discard: true }))
  }

  private forward(
    topic: TopicState,
    link: Link,
    interest: { credit: number; readonly waiters: Waiters },
    encoded: unknown,
    woken = false
  ): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (topic.interested.get(link) !== interest) return Exit.void // the neighbour lost interest or went away
      if (interest.credit > 0 && (woken || interest.waiters.size === 0)) {
        interest.credit--
        link.send([F.T_PUB, topic.subject.name, encoded])
        return Exit.void
      }
      return Effect.flatMap(
        interest.waiters.wait(() => interest.credit > 0 || topic.interested.get(link) !== interest),
        (ok) => (ok ? this.forward(topic, link, interest, encoded, true) : Exit.void)
      )
    })
  }

  private onSubscribe(link: Link, name: string): void {
    const subject = this.subjects(name, "topic")
    const topic = subject !== undefined ? this.topic(subject) : this.topic({ name, schema: opaque })
    if (!topic.interested.has(link)) topic.interested.set(link, { credit: TOPIC_WINDOW, waiters: new Waiters() })
    this.advertise(topic)
  }

  private onUnsubscribe(link: Link, name: string): void {
    const topic = this.topics.get(name)
    if (topic === undefined) return
    const interest = topic.interested.get(link)
    if (interest === undefined) return
    topic.interested.delete(link)
    interest.waiters.wakeAll(false)
    this.advertise(topic)
    this.forget(topic)
  }

  private onTopicAck(link: Link, name: string, n: number): void {
    const interest = this.topics.get(name)?.interested.get(link)
    if (interest === undefined) return
    interest.credit += n
    for (let i = 0; i < n && interest.waiters.size > 0; i++) interest.waiters.wakeOne()
  }

  /** A publication from a neighbour: handled in arrival order per neighbour, acknowledged when done. */
  private onPublish(link: Link, name: string, encoded: unknown): void {
    const topic = this.topics.get(name)
    if (topic === undefined) return void link.send([F.T_ACK, name, 1])
    let inbound = topic.inbound.get(link)
    if (inbound === undefined) {
      inbound = { queue: [], running: false, acks: 0 }
      topic.inbound.set(link, inbound)
    }
    inbound.queue.push(encoded)
    if (!inbound.running) this.drainInbound(topic, link, inbound)
  }

  private drainInbound(
    topic: TopicState,
    link: Link,
    inbound: { queue: Array<unknown>; running: boolean; acks: number }
  ): void {
    inbound.running = true
    const step = (): void => {
      while (inbound.queue.length > 0) {
        const encoded = inbound.queue.shift()
        const decoded =
          topic.subject.schema === opaque ? Exit.succeed(encoded) : codec.decodeWith(topic.subject.schema, encoded)
        const value = Exit.isSuccess(decoded) ? decoded.value : undefined
        const ack = () => {
          inbound.acks++
          if (inbound.acks >= TOPIC_WINDOW / 2 || inbound.queue.length === 0) {
            link.send([F.T_ACK, topic.subject.name, inbound.acks])
            inbound.acks = 0
          }
        }
        if (Exit.isFailure(decoded)) {
          ack()
          continue
        }
        const fiber = Effect.runFork(this.deliver(topic, value, encoded, link))
        if (fiber.pollUnsafe() !== undefined) {
          ack()
          continue
        }
        // a subscriber with a "suspend" buffer is full: wait for it, then go on in order
        fiber.addObserver(() => {
          ack()
          step()
        })
        return
      }
      inbound.running = false
    }
    step()
  }
}

/** A Schema-less subject, for topics only routed through this node (never decoded here). */
const opaque: Schema.Top = undefined as unknown as Schema.Top

interface RelayedOpen {
  readonly sender: string
  readonly inboxNode: string
  readonly openId: number
  readonly inboxId: string
}
interface RelayedSession {
  readonly sender: string
  readonly inboxNode: string
  readonly inboxId: string
}

const senderKey = (node: string, id: string) => `${node}|${id}`

const closedChannel = (channel: string) => ActorError.make(new ActorError.ChannelClosed({ channel }))

const closedError = (channel: string) =>
  codec.encodeActorError(ActorError.make(new ActorError.ChannelClosed({ channel })))

const unreachableError = (node: string) =>
  ActorError.make(new ActorError.Unreachable({ node, message: `no route to node ${node}` }))

const unreachable = (node: string) => codec.encodeActorError(unreachableError(node))

const failureOf = (exit: Exit.Failure<unknown, ActorError.ActorError>): ActorError.ActorError => {
  for (const r of exit.cause.reasons) if (r._tag === "Fail") return r.error
  return ActorError.make(new ActorError.Unreachable({ node: "", message: "the channel session failed" }))
}

const issueOf = (exit: Exit.Failure<unknown, unknown>): string => {
  for (const r of exit.cause.reasons) {
    if (r._tag === "Fail") return String((r.error as { message?: string }).message ?? r.error)
  }
  return "invalid"
}
