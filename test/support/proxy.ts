/**
 * A TCP proxy on 127.0.0.1 for fault tests: it forwards to a target port, and can blackhole traffic
 * (keep the sockets open but pass nothing, as a dead path without FIN would), drop every connection,
 * or switch to another target (a restarted server).
 */
import { Effect, Scope } from "effect"
import * as net from "node:net"

export interface Proxy {
  readonly port: number
  /** Stops (true) or resumes (false) passing bytes, in both directions, without closing anything. */
  readonly blackhole: (on: boolean) => void
  /** Destroys every open connection. */
  readonly drop: () => void
  /** New connections go to this port from now on. */
  readonly retarget: (port: number) => void
}

export const proxy = (target: number): Effect.Effect<Proxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ proxy: Proxy; server: net.Server; sockets: Set<net.Socket> }>((resume) => {
      let to = target
      let holed = false
      const sockets = new Set<net.Socket>()
      const server = net.createServer((client) => {
        const upstream = net.connect({ host: "127.0.0.1", port: to })
        for (const s of [client, upstream]) {
          sockets.add(s)
          s.on("error", () => {})
          s.on("close", () => sockets.delete(s))
        }
        client.on("data", (d) => void (holed || upstream.write(d)))
        upstream.on("data", (d) => void (holed || client.write(d)))
        client.on("close", () => upstream.destroy())
        upstream.on("close", () => client.destroy())
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port
        resume(
          Effect.succeed({
            server,
            sockets,
            proxy: {
              port,
              blackhole: (on) => {
                holed = on
              },
              drop: () => {
                for (const s of sockets) s.destroy()
              },
              retarget: (port) => {
                to = port
              }
            }
          })
        )
      })
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ proxy }) => proxy))
