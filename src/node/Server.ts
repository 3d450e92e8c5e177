/**
 * Server: a remote Troupe node over TCP, what `troupe serve` runs. It hosts the kinds that a host
 * module registers, authenticates every client (shared-secret HMAC challenge, optional TLS) before
 * accepting anything else, gives each client session an actor system of its own (a client reaches only
 * the actors it spawned), and closes cleanly: clients are told, actors stop, finalizers run.
 */
import { Context, Effect, Layer, type Redacted, type Scope } from "effect"
import * as Redact from "effect/Redacted"
import * as net from "node:net"
import * as tls from "node:tls"
import * as ActorError from "../ActorError.ts"
import { ActorSystem, makeUnsafe as makeSystem } from "../ActorSystem.ts"
import * as Inspector from "../Inspector.ts"
import { DEFAULT_MAX_FRAME } from "../internal/wire/framing.ts"
import { randomId } from "../internal/id.ts"
import { Link } from "../internal/wire/link.ts"
import { hostHref } from "./internal/entry.ts"
import { loadHost } from "./internal/host.ts"
import { batchLimit } from "./internal/pool.ts"
import { failedFrame, FramedSocket, PRE_AUTH_MAX_FRAME, ServerAuth } from "./internal/tcp.ts"

/** TLS material of a server. */
export interface ServerTls {
  readonly cert: string | Uint8Array
  readonly key: string | Uint8Array
}

/** Options of a remote server. */
export interface ServeOptions {
  /** The host module: its exported behaviour Layers are what clients may spawn. */
  readonly module: URL | string
  /** Interface to bind. Default "127.0.0.1". Anything but loopback needs a secret or TLS. */
  readonly host?: string | undefined
  /** Default 29000; 0 picks a free port (see `address`). */
  readonly port?: number | undefined
  /** The shared secret clients must prove they know. */
  readonly secret?: Redacted.Redacted<string> | undefined
  readonly tls?: ServerTls | undefined
  /** Largest batch accepted from an authenticated client, in bytes. Default 64 MiB. */
  readonly maxFrame?: number | undefined
  /** Time a client has to authenticate and say HELLO, in ms. Default 5 000. */
  readonly handshakeTimeout?: number | undefined
  /** How long a disconnected client's actors are kept for it to reconnect, in ms. Default 30 000. */
  readonly sessionTtl?: number | undefined
  /** How long actors may take to stop when the server closes, in ms. Default 5 000. */
  readonly stopTimeout?: number | undefined
  /**
   * Heartbeats: a PING after `interval` ms of quiet; a client that sends nothing for `timeout` ms is
   * disconnected (its actors wait `sessionTtl` for it to come back). Default 2 000 and 10 000 ms.
   */
  readonly heartbeat?: { readonly interval: number; readonly timeout: number } | false | undefined
  /**
   * Serve the inspector's page for the whole server (every client session as a node) on this port of
   * 127.0.0.1 (0 = any free port; see `inspector`). Loopback only: the page has no authentication and
   * shows every client's actors. Needs `@effect/platform-node`.
   */
  readonly inspectPort?: number | undefined
}

/** A running server. */
export interface RemoteServer {
  readonly address: { readonly host: string; readonly port: number }
  /** The protocol names clients may spawn. */
  readonly kinds: ReadonlyArray<string>
  readonly secure: { readonly secret: boolean; readonly tls: boolean }
  /** Client sessions with actors or a connection. */
  readonly sessions: () => number
  /** Where the inspector's page is served, with `inspectPort`. */
  readonly inspector: string | undefined
}

/**
 * The inspector's page over the server's client sessions, in the current scope. Loaded on demand: the
 * page needs `@effect/platform-node`, which a server without an inspector does not.
 */
const inspectorPage = (
  port: number,
  systems: () => Iterable<ActorSystem>,
  kinds: ReadonlyArray<string>
): Effect.Effect<string, string, Scope.Scope> =>
  Effect.gen(function* () {
    const { InspectorPage } = yield* Effect.tryPromise({
      try: () => import("./inspector.ts"),
      catch: (e) => `the inspector page needs @effect/platform-node: ${e instanceof Error ? e.message : String(e)}`
    })
    const context = yield* Layer.build(
      InspectorPage.layer({ port, host: "127.0.0.1" }).pipe(Layer.provide(Inspector.layerOver(systems, kinds)))
    ).pipe(Effect.mapError((e) => `the inspector page cannot listen: ${e.message}`))
    return Context.get(context, InspectorPage.InspectorPage).url
  })

/** True for addresses that only this machine can reach. */
export const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || host.startsWith("127.") || host === "::ffff:127.0.0.1"

const pem = (u: string | Uint8Array): string | Buffer => (typeof u === "string" ? u : Buffer.from(u))

interface Session {
  readonly system: ActorSystem
  readonly links: Set<Link>
  expiry: ReturnType<typeof setTimeout> | undefined
}

const disconnected = (node: string, message: string) => ActorError.make(new ActorError.Disconnected({ node, message }))

/**
 * Starts a server in the current scope; closing the scope shuts it down.
 *
 * @example
 * ```ts
 * const server = yield* Server.serve({ module: new URL("./actors.ts", import.meta.url), port: 29000,
 *   secret: Redacted.make(process.env.TROUPE_SECRET!) })
 * console.log(`listening on ${server.address.port}`)
 * ```
 */
export const serve = (options: ServeOptions): Effect.Effect<RemoteServer, ActorError.ActorError, Scope.Scope> =>
  Effect.gen(function* () {
    const host = options.host ?? "127.0.0.1"
    const node = `server@${host}`
    if (!isLoopback(host) && options.secret === undefined && options.tls === undefined) {
      return yield* Effect.fail(
        ActorError.make(
          new ActorError.Unauthorized({
            node,
            message: `refusing to serve on ${host} without a secret or TLS: anyone who can reach it could spawn actors`
          })
        )
      )
    }
    const serverNode = `srv-${randomId(8)}`
    const href = hostHref(options.module)
    const loaded = yield* loadHost(href).pipe(
      Effect.mapError((message) => ActorError.make(new ActorError.HostFailed({ node, message })))
    )
    const secret = options.secret === undefined ? undefined : Buffer.from(Redact.value(options.secret), "utf8")
    const maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME
    const handshakeTimeout = options.handshakeTimeout ?? 5_000
    const sessionTtl = options.sessionTtl ?? 30_000
    const sessions = new Map<string, Session>()
    const links = new Set<Link>()
    const sockets = new Set<FramedSocket>()
    const run = Effect.runForkWith(loaded.context)

    const expire = (id: string, session: Session) => {
      if (session.links.size > 0) return
      session.expiry = setTimeout(() => {
        if (session.links.size > 0 || sessions.get(id) !== session) return
        sessions.delete(id)
        run(session.system.shutdown)
      }, sessionTtl)
      session.expiry.unref?.()
    }

    const sessionFor = (id: string): Session => {
      let session = sessions.get(id)
      if (session === undefined) {
        // each session is a node of its own: its actors, channels and topics are its client's alone
        session = {
          system: makeSystem({ nodeId: `${serverNode}/s-${id.slice(0, 12)}` }),
          links: new Set(),
          expiry: undefined
        }
        sessions.set(id, session)
      }
      if (session.expiry !== undefined) clearTimeout(session.expiry)
      session.expiry = undefined
      return session
    }

    const accept = (socket: net.Socket) => {
      const framed = new FramedSocket(socket, PRE_AUTH_MAX_FRAME)
      sockets.add(framed)
      framed.onClose(() => sockets.delete(framed))
      const auth = new ServerAuth(secret)
      let link: Link | undefined
      const timer = setTimeout(() => {
        if (link === undefined || link.status === "connecting") {
          framed.end(failedFrame("unauthorized: the handshake did not finish in time"))
          link?.fail(disconnected(node, "handshake timeout"))
        }
      }, handshakeTimeout)
      framed.onClose(() => clearTimeout(timer))
      framed.write(auth.challenge())
      framed.listen((bytes) => {
        const answer = auth.answer(bytes)
        if (typeof answer === "string") return framed.end(failedFrame(answer))
        framed.write(answer.proof)
        framed.setMaxFrame(maxFrame)
        const session = sessionFor(answer.session)
        const peer = `client@${socket.remoteAddress}:${socket.remotePort}`
        const current = new Link(
          { write: (b) => framed.write(b), close: () => framed.end(), maxFrame },
          {
            peerLabel: peer,
            batchLimit: batchLimit(),
            host: {
              system: session.system,
              behaviours: loaded.behaviours,
              context: Context.add(loaded.context, ActorSystem, session.system)
            },
            lost: disconnected,
            // a client may inspect its own session (and nothing else: the session has no other link)
            inspectable: true,
            heartbeat:
              options.heartbeat === false ? undefined : (options.heartbeat ?? { interval: 2000, timeout: 10_000 }),
            onClose: () => {
              links.delete(current)
              session.links.delete(current)
              expire(answer.session, session)
            }
          }
        )
        link = current
        links.add(current)
        session.links.add(current)
        framed.listen(
          (b) => current.receive(b),
          (why) => current.fail(ActorError.make(new ActorError.ProtocolError({ node: peer, message: why })))
        )
        framed.onClose((why) => current.fail(disconnected(peer, `the connection closed (${why})`)))
        current.start()
      })
    }

    const server =
      options.tls !== undefined
        ? tls.createServer({ cert: pem(options.tls.cert), key: pem(options.tls.key) })
        : net.createServer()
    server.on(options.tls !== undefined ? "secureConnection" : "connection", accept)
    // a failed TLS handshake destroys that socket; the server goes on
    server.on("tlsClientError", () => {})

    const address = yield* Effect.acquireRelease(
      Effect.callback<{ host: string; port: number }, ActorError.ActorError>((resume) => {
        const onError = (e: Error) =>
          resume(
            Effect.fail(ActorError.make(new ActorError.Unreachable({ node, message: `cannot listen: ${e.message}` })))
          )
        server.once("error", onError)
        server.listen(options.port ?? 29000, host, () => {
          server.off("error", onError)
          const bound = server.address() as net.AddressInfo
          resume(Effect.succeed({ host, port: bound.port }))
        })
      }),
      () =>
        Effect.gen(function* () {
          // tell every client first, so their calls in flight fail at once with Disconnected
          for (const link of links) {
            link.bye(
              "the server is shutting down",
              disconnected(link.peer, "the server is shutting down; requests in flight have an unknown outcome")
            )
          }
          for (const framed of sockets) framed.end()
          yield* Effect.callback<void>((resume) => {
            server.close(() => resume(Effect.void))
          }).pipe(Effect.timeoutOrElse({ duration: 2_000, orElse: () => Effect.void }))
          for (const framed of sockets) framed.destroy("the server closed")
          for (const session of sessions.values()) if (session.expiry !== undefined) clearTimeout(session.expiry)
          yield* Effect.forEach(sessions.values(), (s) => s.system.shutdown, {
            concurrency: "unbounded",
            discard: true
          }).pipe(Effect.timeoutOrElse({ duration: options.stopTimeout ?? 5_000, orElse: () => Effect.void }))
        })
    )

    const inspector =
      options.inspectPort === undefined
        ? undefined
        : yield* inspectorPage(
            options.inspectPort,
            () => Array.from(sessions.values(), (session) => session.system),
            Array.from(loaded.behaviours.keys())
          ).pipe(Effect.mapError((message) => ActorError.make(new ActorError.HostFailed({ node, message }))))

    return {
      address,
      kinds: Array.from(loaded.behaviours.keys()),
      secure: { secret: secret !== undefined, tls: options.tls !== undefined },
      sessions: () => sessions.size,
      inspector
    }
  })
