#!/usr/bin/env node
/**
 * The `troupe` command. `troupe serve [options] <module>` hosts the kinds that a host module registers
 * on a TCP port, like the Python seed's `remote_server.py --port 29000`, but authenticated: it binds
 * 127.0.0.1 unless told otherwise, refuses a non-loopback bind without a secret or TLS, and shuts down
 * cleanly on SIGINT/SIGTERM.
 */
import { Effect, Exit, Redacted } from "effect"
import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import * as Server from "./Server.ts"

const usage = `usage: troupe serve [options] <module>

Hosts the actor kinds that <module> exports (behaviour Layers) on a TCP port.

options:
  --host <address>            interface to bind (default 127.0.0.1)
  --port <n>                  port (default 29000; 0 = any free port)
  --secret-file <path>        shared secret clients must prove they know (or env TROUPE_SECRET)
  --tls-cert <path>           TLS certificate (PEM); with --tls-key
  --tls-key <path>            TLS private key (PEM)
  --max-frame <bytes>         largest batch accepted from a client (default 67108864)
  --handshake-timeout <ms>    time a client has to authenticate (default 5000)
  --session-ttl <ms>          how long a disconnected client's actors are kept (default 30000)
  --heartbeat-timeout <ms>    a client silent this long is disconnected (default 10000; 0 = off)
  --inspect-port <n>          serve the inspector's page for every session on 127.0.0.1:<n> (0 = any)
  -h, --help                  this text

A non-loopback --host requires --secret-file (or TROUPE_SECRET) or TLS.`

const fail = (message: string): never => {
  console.error(`troupe: ${message}`)
  process.exit(2)
}

const number = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined
  const n = Number(value)
  return Number.isInteger(n) && n >= 0 ? n : fail(`--${name} must be a non-negative integer, got "${value}"`)
}

const heartbeatOf = (timeout: number | undefined): Server.ServeOptions["heartbeat"] =>
  timeout === undefined
    ? undefined
    : timeout === 0
      ? false
      : { interval: Math.max(1, Math.floor(timeout / 5)), timeout }

const serve = (args: Array<string>) => {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      "secret-file": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "max-frame": { type: "string" },
      "handshake-timeout": { type: "string" },
      "session-ttl": { type: "string" },
      "heartbeat-timeout": { type: "string" },
      "inspect-port": { type: "string" },
      help: { type: "boolean", short: "h" }
    }
  })
  if (values.help === true) {
    console.log(usage)
    return process.exit(0)
  }
  if (positionals.length !== 1) fail(`serve needs exactly one host module\n\n${usage}`)
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path, "utf8")
    } catch (e) {
      return fail(`cannot read the ${what} ${path}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  const secretText =
    values["secret-file"] !== undefined
      ? read(values["secret-file"], "secret file").replace(/\r?\n$/, "")
      : process.env["TROUPE_SECRET"]
  if (secretText !== undefined && secretText.length === 0) fail("the secret is empty")
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) {
    fail("--tls-cert and --tls-key go together")
  }
  const tls =
    values["tls-cert"] !== undefined && values["tls-key"] !== undefined
      ? { cert: read(values["tls-cert"], "TLS certificate"), key: read(values["tls-key"], "TLS key") }
      : undefined
  const host = values.host ?? "127.0.0.1"
  if (!Server.isLoopback(host) && secretText === undefined && tls === undefined) {
    fail(
      `refusing to bind ${host} without --secret-file (or TROUPE_SECRET) or TLS: anyone who can reach it could spawn actors`
    )
  }
  const options: Server.ServeOptions = {
    module: positionals[0]!,
    host,
    port: number("port", values.port) ?? 29000,
    secret: secretText === undefined ? undefined : Redacted.make(secretText),
    tls,
    maxFrame: number("max-frame", values["max-frame"]),
    handshakeTimeout: number("handshake-timeout", values["handshake-timeout"]),
    sessionTtl: number("session-ttl", values["session-ttl"]),
    heartbeat: heartbeatOf(number("heartbeat-timeout", values["heartbeat-timeout"])),
    inspectPort: number("inspect-port", values["inspect-port"])
  }
  const program = Effect.gen(function* () {
    const server = yield* Server.serve(options)
    const { host: boundHost, port } = server.address
    console.log(
      `troupe serve: ${server.kinds.join(", ")} from ${positionals[0]} on ${boundHost}:${port}` +
        ` (secret: ${server.secure.secret ? "yes" : "no"}, tls: ${server.secure.tls ? "yes" : "no"})`
    )
    if (server.inspector !== undefined) console.log(`troupe serve: inspector at ${server.inspector}`)
    console.log(`troupe serve: listening on ${boundHost}:${port}`)
    return yield* Effect.never
  }).pipe(Effect.scoped)

  const fiber = Effect.runFork(program)
  let signalled = false
  const stop = (signal: string) => {
    if (signalled) return
    signalled = true
    console.log(`troupe serve: ${signal}, shutting down`)
    fiber.interruptUnsafe()
  }
  process.on("SIGINT", () => stop("SIGINT"))
  process.on("SIGTERM", () => stop("SIGTERM"))
  // Under `npx` (npm exec) the server is npm's child, and npm does not pass a signal sent to its own pid
  // on: a supervisor stopping `npx troupe serve` that way left the server running, adopted by init. Such
  // a server lives as long as its npm process: it shuts down, cleanly, when that process is gone.
  if (process.env["npm_command"] === "exec") {
    const parent = process.ppid
    setInterval(() => {
      if (process.ppid !== parent) stop("its npx process is gone")
    }, 250).unref()
  }
  fiber.addObserver((exit) => {
    if (Exit.isFailure(exit) && !signalled) {
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")
      console.error(
        `troupe serve: ${error !== undefined && error._tag === "Fail" ? String((error.error as Error).message ?? error.error) : "failed"}`
      )
      process.exit(1)
    }
    console.log("troupe serve: stopped")
    process.exit(0)
  })
}

const [command, ...rest] = process.argv.slice(2)
if (command === "serve") serve(rest)
else if (command === undefined || command === "-h" || command === "--help") console.log(usage)
else fail(`unknown command "${command}"\n\n${usage}`)
