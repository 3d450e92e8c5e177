/**
 * Remote: the TCP backend. Actors spawned with `backend: Remote` run on a `troupe serve` host (or any
 * program running `Server.serve`), reached over one authenticated connection that carries the wire's
 * length-prefixed CBOR batches. Same ActorRef; a dropped connection fails what is in flight with
 * Disconnected.
 */
import { Context, Effect, Exit, Layer, Pull, type Redacted, Schedule, Scope } from "effect"
import * as Redact from "effect/Redacted"
import * as net from "node:net"
import * as tls from "node:tls"
import * as ActorError from "../ActorError.ts"
import { ActorSystem } from "../ActorSystem.ts"
import type { Backend } from "../Backend.ts"
import { DEFAULT_MAX_FRAME } from "../internal/wire/framing.ts"
import { Link } from "../internal/wire/link.ts"
import * as Supervision from "../Supervision.ts"
import { overLinks } from "./internal/backend.ts"
import { batchLimit } from "./internal/pool.ts"
import { ClientAuth, FramedSocket, newSession, PRE_AUTH_MAX_FRAME } from "./internal/tcp.ts"

/** TLS options of a client: `true` for the system's CAs, or the details. */
export type ClientTls =
  | boolean
  | {
      /** CA certificate(s) to trust (e.g. the server's self-signed certificate). */
      readonly ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array> | undefined
      /** Name to check the server certificate against. Default: `host`. */
      readonly servername?: string | undefined
      /** Default true. Turning it off accepts any certificate: for tests only. */
      readonly rejectUnauthorized?: boolean | undefined
    }

/** Options of the TCP backend. */
export interface Options {
  readonly host: string
  readonly port: number
  /** The server's shared secret, if it has one. */
  readonly secret?: Redacted.Redacted<string> | undefined
  readonly tls?: ClientTls | undefined
  /** Time to connect, authenticate and say HELLO, in ms. Default 10 000. */
  readonly connectTimeout?: number | undefined
  /** Largest batch accepted from the server, in bytes. Default 64 MiB. */
  readonly maxFrame?: number | undefined
  /**
   * Reconnecting after the connection drops: with backoff between attempts (default 100 ms growing to
   * 5 s, with jitter, without end), or not (`false`). The session survives a reconnect within the
   * server's session TTL, so refs keep working; a server that restarted is another node, and refs to
   * its predecessor fail with NodeRestarted.
   */
  readonly reconnect?: { readonly backoff?: Supervision.Backoff; readonly maxAttempts?: number } | false | undefined
  /**
   * Heartbeats: a PING after `interval` ms of quiet; a server that sends nothing for `timeout` ms is
   * taken for gone (a dead host or a broken path does not always close the socket). Default 1 000 and
   * 5 000 ms; `false` turns them off.
   */
  readonly heartbeat?: { readonly interval: number; readonly timeout: number } | false | undefined
}

/** The TCP backend, with its connection. */
export interface RemoteBackend extends Backend {
  /** The server's node id (of the current connection). */
  readonly node: string
  /** Whether the connection is up now. */
  readonly connected: boolean
  /** Drops the connection abruptly (no BYE), as a network failure would: for fault tests. */
  readonly drop: Effect.Effect<void>
}

const unreachable = (node: string, message: string) => ActorError.make(new ActorError.Unreachable({ node, message }))

const disconnected = (node: string, message: string) => ActorError.make(new ActorError.Disconnected({ node, message }))

interface Connection {
  readonly link: Link
  readonly framed: FramedSocket
}

/** Connects, authenticates and says HELLO. */
const connectOnce = (
  options: Options,
  session: string,
  linkOptions: {
    readonly resolve: (node: string) => Link | ActorError.ActorError
    readonly onLost: (link: Link) => void
  }
): Effect.Effect<Connection, ActorError.ActorError, never> =>
  Effect.gen(function* () {
    const node = `${options.host}:${options.port}`
    const system = yield* ActorSystem
    const context = yield* Effect.context<never>()
    const secret = options.secret === undefined ? undefined : Buffer.from(Redact.value(options.secret), "utf8")
    const connectTimeout = options.connectTimeout ?? 10_000
    const heartbeat = options.heartbeat === false ? undefined : (options.heartbeat ?? { interval: 1000, timeout: 5000 })

    return yield* Effect.callback<Connection, ActorError.ActorError>((resume) => {
      let settled = false
      const settle = (exit: Exit.Exit<Connection, ActorError.ActorError>) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (Exit.isFailure(exit)) socket.destroy()
        resume(exit)
      }
      const tlsOptions = options.tls
      const socket =
        tlsOptions === undefined || tlsOptions === false
          ? net.connect({ host: options.host, port: options.port })
          : tls.connect({
              host: options.host,
              port: options.port,
              ...(tlsOptions === true ? {} : tlsOptions.ca !== undefined ? { ca: tlsOptions.ca as any } : {}),
              ...(tlsOptions !== true && tlsOptions.servername !== undefined
                ? { servername: tlsOptions.servername }
                : {}),
              ...(tlsOptions !== true && tlsOptions.rejectUnauthorized === false ? { rejectUnauthorized: false } : {})
            })
      const timer = setTimeout(
        () => settle(Exit.fail(unreachable(node, `no connection and handshake within ${connectTimeout} ms`))),
        connectTimeout
      )
      socket.once("error", (e) => settle(Exit.fail(unreachable(node, e.message))))
      socket.once(tlsOptions === undefined || tlsOptions === false ? "connect" : "secureConnect", () => {
        const framed = new FramedSocket(socket, PRE_AUTH_MAX_FRAME)
        const auth = new ClientAuth(secret, session, node)
        framed.onClose((why) => settle(Exit.fail(unreachable(node, `the server closed the connection: ${why}`))))
        let step = 1
        framed.listen((bytes) => {
          if (step === 1) {
            step = 2
            const answer = auth.answer(bytes)
            if (answer instanceof Uint8Array) return framed.write(answer)
            return settle(Exit.fail(answer))
          }
          const refused = auth.verify(bytes)
          if (refused !== undefined) return settle(Exit.fail(refused))
          framed.setMaxFrame(options.maxFrame ?? DEFAULT_MAX_FRAME)
          const link = new Link(
            {
              write: (b) => framed.write(b),
              close: () => framed.end(),
              maxFrame: options.maxFrame ?? DEFAULT_MAX_FRAME
            },
            {
              peerLabel: node,
              batchLimit: batchLimit(),
              host: { system, behaviours: new Map(), context },
              lost: disconnected,
              resolve: linkOptions.resolve,
              heartbeat,
              onClose: () => linkOptions.onLost(link)
            }
          )
          framed.listen(
            (b) => link.receive(b),
            (why) => link.fail(ActorError.make(new ActorError.ProtocolError({ node, message: why })))
          )
          framed.onClose((why) =>
            link.fail(
              disconnected(
                link.peer,
                `the connection to ${node} was lost (${why}): for a request in flight then, the outcome is unknown`
              )
            )
          )
          link.start()
          Effect.runFork(link.whenOpen).addObserver((exit) =>
            settle(
              Exit.isSuccess(exit) ? Exit.succeed({ link, framed }) : (exit as Exit.Exit<never, ActorError.ActorError>)
            )
          )
        })
      })
      return Effect.sync(() => settle(Exit.fail(unreachable(node, "interrupted"))))
    })
  })

/**
 * Connects (the Layer fails if the first connection does), then keeps the connection: a lost one is
 * reconnected in the background with backoff, in the same session.
 */
const make = (options: Options): Effect.Effect<RemoteBackend, ActorError.ActorError, Scope.Scope> =>
  Effect.gen(function* () {
    const session = newSession()
    const address = `${options.host}:${options.port}`
    const scope = yield* Effect.scope
    const context = yield* Effect.context<never>()
    let current: Connection | undefined
    let closing = false
    let reconnecting = false

    const resolve = (node: string): Link | ActorError.ActorError => {
      if (current === undefined || current.link.status !== "open") {
        return disconnected(node, `the connection to ${address} is down${reconnecting ? " (reconnecting)" : ""}`)
      }
      if (current.link.peer !== node) {
        return ActorError.make(new ActorError.NodeRestarted({ node, now: current.link.peer }))
      }
      return current.link
    }

    const reconnectPolicy = options.reconnect === false ? undefined : (options.reconnect ?? {})
    const reconnect: Effect.Effect<void> = Effect.gen(function* () {
      if (reconnectPolicy === undefined) return
      const step = yield* Schedule.toStepWithSleep(
        Supervision.scheduleOf(
          Supervision.restart({
            maxRestarts: Number.POSITIVE_INFINITY,
            backoff: { initial: "100 millis", max: "5 seconds", ...reconnectPolicy.backoff }
          }) as Extract<Supervision.Supervision, { _tag: "Restart" }>
        )
      )
      const maxAttempts = reconnectPolicy.maxAttempts ?? Number.POSITIVE_INFINITY
      for (let attempt = 1; attempt <= maxAttempts && !closing; attempt++) {
        const waited = yield* Effect.exit(step(undefined))
        if (Exit.isFailure(waited) && Pull.isDoneCause(waited.cause)) return
        if (closing) return
        const next = yield* Effect.exit(connectOnce(options, session, { resolve, onLost }))
        if (Exit.isSuccess(next)) {
          if (closing) return next.value.link.bye("the client is leaving", disconnected(address, "closed"))
          current = next.value
          return
        }
      }
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          reconnecting = false
        })
      )
    )

    const onLost = (link: Link) => {
      if (closing || current?.link !== link || reconnecting) return
      reconnecting = true
      Effect.runForkWith(context)(reconnect.pipe(Effect.forkIn(scope)))
    }

    current = yield* connectOnce(options, session, { resolve, onLost })
    yield* Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        closing = true
        current?.link.bye("the client is leaving", disconnected(current.link.peer, "the client closed the connection"))
      })
    )

    const backend: RemoteBackend = {
      ...overLinks("remote", () => {
        const link = current?.link
        return link === undefined ? disconnected(address, "not connected") : resolve(link.peer)
      }),
      get node() {
        return current?.link.peer ?? address
      },
      get connected() {
        return current !== undefined && current.link.status === "open"
      },
      drop: Effect.sync(() => current?.framed.destroy("dropped"))
    }
    return backend
  })

/**
 * The TCP backend's service key.
 *
 * @example
 * ```ts
 * const calc = yield* Actor.spawn(Calculator, { id: "calc", backend: Remote })
 * // provided by
 * Remote.layer({ host: "127.0.0.1", port: 29000, secret: Redacted.make(process.env.TROUPE_SECRET!) })
 * ```
 */
export class Remote extends Context.Service<Remote, RemoteBackend>()("troupe/node/Remote") {
  /** One authenticated connection to a remote node; closing the Layer's scope closes it. */
  static layer(options: Options): Layer.Layer<Remote, ActorError.ActorError> {
    return Layer.effect(Remote, make(options))
  }
}
