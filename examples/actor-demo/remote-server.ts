/**
 * The actor demo's remote server, like the Python seed's remote_server.py: it serves the demo's actors
 * (actors.ts) over TCP with `Server.serve` from troupe/node. Clients must know the shared secret:
 * TROUPE_SECRET if it is set, else a generated one that is printed. Ctrl-C (or SIGTERM) stops it
 * cleanly: clients are told, actors stop, exit code 0.
 * Run: npx tsx examples/actor-demo/remote-server.ts --port 29000     (--port 0 picks a free port)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { parseArgs } from "node:util"
import { Server } from "troupe/node"

const { values } = parseArgs({
  options: { port: { type: "string", default: "29000" }, host: { type: "string", default: "127.0.0.1" } }
})

const fromEnv = process.env["TROUPE_SECRET"]
const secret = fromEnv ?? randomBytes(18).toString("base64url")

const program = Effect.gen(function* () {
  const server = yield* Server.serve({
    module: new URL("./actors.ts", import.meta.url),
    host: values.host,
    port: Number(values.port),
    secret: Redacted.make(secret)
  })
  const { host, port } = server.address
  console.log(`remote-server: serving ${server.kinds.join(", ")}`)
  console.log(
    fromEnv !== undefined
      ? "remote-server: the secret is TROUPE_SECRET's"
      : `remote-server: generated a secret; in the client's terminal: export TROUPE_SECRET=${secret}`
  )
  console.log(`remote-server: listening on ${host}:${port} (Ctrl-C stops it)`)
  return yield* Effect.never
}).pipe(
  Effect.scoped, // closing the scope shuts the server down
  Effect.onInterrupt(() => Effect.sync(() => console.log("remote-server: stopped")))
)

// SIGINT and SIGTERM interrupt the program; a clean shutdown exits with 0
NodeRuntime.runMain(program, {
  teardown: (exit, onExit) => onExit(Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? 0 : 1)
})
