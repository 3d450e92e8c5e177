/**
 * Troupe's actor demo: the Python seed's actor runtime demo, in Troupe. Any behaviour becomes an
 * actor; actors run in-process, in worker threads, in child processes and on a remote server with the
 * same typed API; typed channels connect them across backends. Every step checks its own results.
 * Run: npx tsx examples/actor-demo/actor-demo.ts [--demo basic|channel|pipeline|channel-detail|all]
 *        [--with-remote [--port 29000] [--own-server]]
 * README.md (next to this file) explains the demos and the remote server.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Layer, Redacted, Scope, Stream } from "effect"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { Actor, type ActorError, ActorRef, Channel } from "troupe"
import { Remote, Subprocess, Workers } from "troupe/node"
import { check, tally } from "../support/check.ts"
import {
  Aggregator,
  AggregatorLive,
  Calculator,
  CalculatorLive,
  Consumer,
  ConsumerLive,
  DataProcessor,
  DataProcessorLive,
  Producer,
  ProducerLive,
  Results,
  type Where
} from "./actors.ts"

const usage = `usage: npx tsx examples/actor-demo/actor-demo.ts [options]
  --demo <name>    basic | channel | pipeline | channel-detail | all (default all)
  --with-remote    also compare a calculator on a remote server with a local one
  --port <n>       the remote server's port (default 29000; secret from TROUPE_SECRET)
  --own-server     start a remote server for the demo even if one answers on --port`

const { values: options } = parseArgs({
  options: {
    demo: { type: "string", default: "all" },
    "with-remote": { type: "boolean", default: false },
    port: { type: "string", default: "29000" },
    "own-server": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false }
  }
})

const host = new URL("./actors.ts", import.meta.url)

// ------------------------------------------------------------------------------------ presentation

const rule = "=".repeat(70)
const banner = (title: string) => Console.log(`\n${rule}\n${title}\n${rule}`)
const step = (text: string) => Console.log(`\n${text}`)
const say = (text: string) => Console.log(`  ${text}`)

/** "calc: in a worker thread (node n-1a2b/worker-1.0, pid 4242, thread 2)", from the actor itself. */
const whereIs = (
  ref: ActorRef.ActorRef<any> & { readonly info: () => Effect.Effect<typeof Where.Type, ActorError.ActorError> }
) =>
  Effect.gen(function* () {
    const { id, pid, thread } = yield* ref.info()
    const node = ActorRef.location(ref)
    const kind =
      node === "local"
        ? "in-process"
        : node.includes("/worker-")
          ? "in a worker thread"
          : node.includes("/child-")
            ? "in a child process"
            : "on a remote server"
    const details = [
      ...(node === "local" ? [] : [`node ${node}`]),
      `pid ${pid}`,
      thread === 0 ? "main thread" : `thread ${thread}`
    ]
    yield* say(`${id}: ${kind} (${details.join(", ")})`)
  })

/** A demo: a banner, its steps, and a ✓ line if every check in it passed. */
const demo = <E, R>(title: string, done: string, body: Effect.Effect<void, E, R>) =>
  Effect.gen(function* () {
    yield* banner(title)
    const before = tally().failed
    yield* body
    const failed = tally().failed - before
    yield* Console.log(failed === 0 ? `\n✓ ${done}` : `\n✗ ${failed} check(s) failed`)
  })

// ------------------------------------------------------------------------------ Demo 1: basic calls

/** The same calls, whatever the backend. */
const calculate = (label: string, calc: ActorRef.ActorRef<typeof Calculator>) =>
  Effect.gen(function* () {
    const sum = yield* calc.add({ a: 10, b: 20 })
    const product = yield* calc.multiply({ a: 5, b: 6 })
    const history = yield* calc.history()
    yield* say(`${label}: 10 + 20 = ${sum}`)
    yield* say(`${label}: 5 * 6 = ${product}`)
    yield* say(`${label} history: ${JSON.stringify(history)}`)
    yield* check(`${label}: add, multiply, history`, [sum, product, history], [30, 30, ["10 + 20 = 30", "5 * 6 = 30"]])
  })

const processData = (label: string, processor: ActorRef.ActorRef<typeof DataProcessor>) =>
  Effect.gen(function* () {
    yield* processor.process({ values: [1, 2, 3, 4, 5] })
    const stats = yield* processor.stats()
    yield* say(`${label} stats: ${JSON.stringify(stats)}`)
    yield* check(
      `${label}: processed a list, reported stats`,
      { ...stats, processor: undefined },
      { count: 5, sum: 15, mean: 3, min: 1, max: 5 }
    )
  })

const basic = demo(
  "Demo 1: Any behaviour becomes an actor, on any backend",
  "Demo 1 complete: the same API in-process, in worker threads and in child processes",
  Effect.gen(function* () {
    yield* step("[1.1] Spawning Calculator in-process...")
    const calc = yield* Actor.spawn(Calculator, { id: "calc" })
    yield* whereIs(calc)

    yield* step("[1.2] Spawning DataProcessor (a plain class) in a child process...")
    const processor = yield* Actor.spawn(DataProcessor, { id: "processor-1", backend: Subprocess })
    yield* whereIs(processor)

    yield* step("[1.3] Calling methods on actors...")
    yield* calculate("in-process calculator", calc)
    yield* processData("child-process processor", processor)

    yield* step("[1.4] The same calls, swapped: Calculator in a worker thread, DataProcessor in-process...")
    const calcInWorker = yield* Actor.spawn(Calculator, { id: "calc", backend: Workers })
    const localProcessor = yield* Actor.spawn(DataProcessor, { id: "processor-2" })
    yield* whereIs(calcInWorker)
    yield* calculate("worker-thread calculator", calcInWorker)
    yield* processData("in-process processor", localProcessor)

    yield* step("[1.5] What Troupe adds: typed errors and streams cross backends...")
    const divided = yield* calcInWorker
      .divide({ a: 1, b: 0 })
      .pipe(Effect.catchTag("DivideByZero", (e) => Effect.succeed(`DivideByZero(dividend ${e.dividend})`)))
    yield* say(`worker-thread calculator: 1 / 0 -> ${divided}`)
    yield* check(
      "a declared error crossed the worker boundary, caught with catchTag",
      divided,
      "DivideByZero(dividend 1)"
    )
    const defect = yield* processor.percentile({ p: 150 }).pipe(
      Effect.map(String),
      Effect.catchReason("ActorError", "Defect", (d) => Effect.succeed(`Defect ${d.name}: ${d.message}`))
    )
    yield* say(`child-process processor: percentile 150 -> ${defect}`)
    yield* check("a throw in the child process arrived as a typed Defect", defect.startsWith("Defect RangeError"), true)
    const countdown = yield* calcInWorker.countdown({ from: 5 }).pipe(Stream.runCollect)
    yield* say(`worker-thread calculator: countdown stream -> ${countdown.join(", ")}`)
    yield* check("a stream from a worker thread", countdown, [5, 4, 3, 2, 1, 0])
  })
)

// ------------------------------------------------------------------------------ Demo 2: a channel

const channel = demo(
  "Demo 2: A typed channel from an in-process producer to a child process",
  "Demo 2 complete: messages crossed from this process into a child process over a channel",
  Effect.gen(function* () {
    yield* step("[2.1] Spawning Producer in-process and Consumer in a child process...")
    const producer = yield* Actor.spawn(Producer, { id: "producer" })
    const consumer = yield* Actor.spawn(Consumer, { id: "consumer", backend: Subprocess })
    yield* whereIs(producer)
    yield* whereIs(consumer)

    yield* step("[2.2] The consumer opened an inbox; its endpoint goes to the producer, which sends 3 messages...")
    const endpoint = yield* consumer.endpoint()
    yield* say(`consumer's endpoint: channel "${endpoint.channel}" on node ${endpoint.node}`)
    const sent = yield* producer.produce({ texts: ["hello", "from", "troupe"], to: [endpoint] })
    yield* check("the producer sent 3 messages", sent, 3)

    yield* step("[2.3] The consumer receives them (waiting up to 5 s for each) and processes them...")
    const received = yield* consumer.consume({ count: 3, timeoutMs: 5_000 })
    for (const m of received.processed) yield* say(`#${m.seq} from ${m.from}: processed to "${m.text}"`)
    yield* check(
      "3 messages received in order and processed",
      received.processed.map((m) => m.text),
      ["HELLO", "FROM", "TROUPE"]
    )

    yield* step("[2.4] Receiving once more: nothing comes, and the wait ends with a typed Timeout...")
    const more = yield* consumer.consume({ count: 1, timeoutMs: 200 })
    yield* say(`after 200 ms: ${more.processed.length} message(s), timed out: ${more.timedOut}`)
    yield* check("receive({ timeout }) timed out: no null, a Timeout", more, { processed: [], timedOut: true })
  })
)

// ---------------------------------------------------------------------- Demo 3: a parallel pipeline

const pipeline = demo(
  "Demo 3: A pipeline: calculators in parallel, an aggregator in a child process",
  "Demo 3 complete: results from the main thread and two worker threads met in a child process",
  Effect.gen(function* () {
    yield* step("[3.1] Spawning Aggregator in a child process, 4 calculators: 2 in-process, 2 in worker threads...")
    const aggregator = yield* Actor.spawn(Aggregator, { id: "aggregator", backend: Subprocess })
    const calculators = [
      yield* Actor.spawn(Calculator, { id: "calc-1" }),
      yield* Actor.spawn(Calculator, { id: "calc-2" }),
      yield* Actor.spawn(Calculator, { id: "calc-3", backend: Workers }),
      yield* Actor.spawn(Calculator, { id: "calc-4", backend: Workers })
    ]
    yield* whereIs(aggregator)
    for (const calc of calculators) yield* whereIs(calc)

    yield* step("[3.2] The calculators compute in parallel; each sends its result to the aggregator's inbox...")
    const to = yield* aggregator.endpoint()
    const jobs = [
      { a: 3, b: 4, op: "multiply" },
      { a: 5, b: 6, op: "add" },
      { a: 7, b: 8, op: "multiply" },
      { a: 9, b: 10, op: "add" }
    ] as const
    const values = yield* Effect.forEach(calculators, (calc, i) => calc.submit({ ...jobs[i]!, to }), {
      concurrency: "unbounded"
    })
    yield* say(`computed: ${values.join(", ")}`)

    yield* step("[3.3] The aggregator returns them all...")
    const { results, total } = yield* aggregator.collect({ count: 4, timeoutMs: 5_000 })
    for (const r of results) yield* say(`${r.from}: ${r.expression} = ${r.value}`)
    yield* say(`total: ${total}`)
    yield* check(
      "the aggregator got every result",
      results.map((r) => [r.from, r.value]),
      [
        ["calc-1", 12],
        ["calc-2", 11],
        ["calc-3", 56],
        ["calc-4", 19]
      ]
    )
    yield* check("and their total", total, 98)
  })
)

// ------------------------------------------------------------- Demo 4: one channel, two consumers

const channelDetail = demo(
  "Demo 4: One channel, two consumers (in-process and in a child process)",
  "Demo 4 complete: one Channel declaration, two inboxes, every message delivered to both",
  Effect.gen(function* () {
    yield* step("[4.1] Two consumers each open an inbox of the same Channel declaration...")
    const consumers = [
      yield* Actor.spawn(Consumer, { id: "consumer-local" }),
      yield* Actor.spawn(Consumer, { id: "consumer-child", backend: Subprocess })
    ]
    const endpoints = yield* Effect.forEach(consumers, (c) => c.endpoint())
    for (const [i, c] of consumers.entries()) {
      yield* whereIs(c)
      yield* say(`  its inbox: channel "${endpoints[i]!.channel}" on node ${endpoints[i]!.node}`)
    }

    yield* step("[4.2] A producer in a worker thread sends 5 messages to both endpoints...")
    const producer = yield* Actor.spawn(Producer, { id: "producer-worker", backend: Workers })
    yield* whereIs(producer)
    const texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    const sent = yield* producer.produce({ texts, to: endpoints })
    yield* say(`sent ${sent} messages (worker -> main -> child for the second consumer)`)

    yield* step("[4.3] Each consumer receives and processes its copy...")
    const received = yield* Effect.forEach(consumers, (c) => c.consume({ count: texts.length, timeoutMs: 5_000 }), {
      concurrency: "unbounded"
    })
    for (const [i, r] of received.entries()) {
      yield* say(`${consumers[i]!.id}: ${r.processed.map((m) => m.text).join(" ")}`)
    }

    yield* step("[4.4] Summary")
    yield* say(`${"consumer".padEnd(16)}${"runs on".padEnd(30)}${"received".padEnd(10)}in order`)
    for (const [i, r] of received.entries()) {
      const inOrder = r.processed.every((m, n) => m.seq === n)
      yield* say(
        `${consumers[i]!.id.padEnd(16)}${ActorRef.location(consumers[i]!).padEnd(30)}${String(r.processed.length).padEnd(10)}${inOrder ? "yes" : "no"}`
      )
    }
    const expected = texts.map((t) => t.toUpperCase())
    yield* check(`${sent} messages sent, ${texts.length} to each endpoint`, sent, 2 * texts.length)
    for (const [i, r] of received.entries()) {
      yield* check(
        `${consumers[i]!.id} got all ${texts.length}, in order`,
        r.processed.map((m) => m.text),
        expected
      )
    }
  })
)

// --------------------------------------------------------------------- Demo 5: a remote calculator

interface RemoteServer {
  readonly port: number
  readonly secret: string
  readonly stopped: Effect.Effect<number | null>
}

/** remote-server.ts in a child process on a free port, with a fresh secret; SIGTERM when the scope closes. */
const startServer: Effect.Effect<RemoteServer, Error, Scope.Scope> = Effect.acquireRelease(
  Effect.callback<RemoteServer, Error>((resume) => {
    const secret = randomBytes(18).toString("base64url")
    const server = spawn(
      process.execPath,
      [...process.execArgv, fileURLToPath(new URL("./remote-server.ts", import.meta.url)), "--port", "0"],
      { env: { ...process.env, TROUPE_SECRET: secret }, stdio: ["ignore", "pipe", "inherit"] }
    )
    const exited = new Promise<number | null>((done) => server.once("exit", (code) => done(code)))
    const stopped = Effect.promise(() => {
      server.kill("SIGTERM")
      return exited
    })
    let pending = ""
    server.stdout.on("data", (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split("\n")
      pending = lines.pop()!
      for (const line of lines) {
        console.log(`  [server] ${line}`)
        const listening = /listening on [^\s]+:(\d+)/.exec(line)
        if (listening !== null) resume(Effect.succeed({ port: Number(listening[1]), secret, stopped }))
      }
    })
    void exited.then((code) => resume(Effect.fail(new Error(`remote-server.ts exited with ${code}`))))
  }),
  (server) => server.stopped
)

const remoteLayer = (port: number, secret: string | undefined) =>
  Remote.layer({ host: "127.0.0.1", port, secret: secret === undefined ? undefined : Redacted.make(secret) })

/**
 * The Remote backend's Layer: for the server on --port if one answers (and --own-server is not set),
 * else for a server started here, which is stopped when the scope closes.
 */
const connect = Effect.gen(function* () {
  const port = Number(options.port)
  if (!options["own-server"]) {
    const secret = process.env["TROUPE_SECRET"]
    const answers = yield* Layer.build(remoteLayer(port, secret)).pipe(
      Effect.scoped, // only a probe: connect, authenticate, leave
      Effect.as(true),
      Effect.catchReason("ActorError", "Unreachable", () => Effect.succeed(false)),
      Effect.catchReason("ActorError", "Unauthorized", (e) =>
        Effect.fail(new Error(`${e.message}: set TROUPE_SECRET to the secret remote-server.ts printed`))
      )
    )
    if (answers) {
      yield* say(`using the server that answers on 127.0.0.1:${port}`)
      return { layer: remoteLayer(port, secret), own: undefined }
    }
    yield* say(`no server answers on 127.0.0.1:${port}: starting remote-server.ts on a free port`)
  } else {
    yield* say("starting remote-server.ts on a free port (--own-server)")
  }
  const own = yield* startServer
  return { layer: remoteLayer(own.port, own.secret), own }
})

const remote = demo(
  "Demo 5: The same calculator on a remote server (TCP) and in-process",
  "Demo 5 complete: a remote actor is called exactly like a local one",
  Effect.gen(function* () {
    yield* step("[5.1] Connecting to a remote server...")
    const { layer, own } = yield* connect
    yield* Effect.gen(function* () {
      yield* step("[5.2] Spawning Calculator on the remote server and in-process...")
      const remoteCalc = yield* Actor.spawn(Calculator, { id: "calc-remote", backend: Remote })
      const localCalc = yield* Actor.spawn(Calculator, { id: "calc-local" })
      yield* whereIs(remoteCalc)
      yield* whereIs(localCalc)

      yield* step("[5.3] The same calls on both, compared...")
      const calls: ReadonlyArray<
        readonly [string, (c: ActorRef.ActorRef<typeof Calculator>) => Effect.Effect<unknown, ActorError.ActorError>]
      > = [
        ["10 + 20", (c) => c.add({ a: 10, b: 20 })],
        ["5 * 6", (c) => c.multiply({ a: 5, b: 6 })],
        ["7 / 2", (c) => c.divide({ a: 7, b: 2 }).pipe(Effect.catchTag("DivideByZero", Effect.succeed))],
        ["1 / 0", (c) => c.divide({ a: 1, b: 0 }).pipe(Effect.catchTag("DivideByZero", (e) => Effect.succeed(e._tag)))],
        ["countdown 3", (c) => c.countdown({ from: 3 }).pipe(Stream.runCollect)],
        ["history", (c) => c.history()]
      ]
      yield* say(`  ${"call".padEnd(14)}${"local".padEnd(46)}remote`)
      for (const [label, call] of calls) {
        const local = JSON.stringify(yield* call(localCalc))
        const far = JSON.stringify(yield* call(remoteCalc))
        yield* check(`${label.padEnd(14)}${local.padEnd(46)}${far}`, far, local) // a ✓ row when they agree
      }

      yield* step("[5.4] Channels cross TCP too: the remote calculator sends its result to an inbox here...")
      const inbox = yield* Channel.open(Results)
      yield* remoteCalc.submit({ a: 20, b: 22, op: "add", to: inbox.endpoint })
      const result = yield* inbox.receive({ timeout: "5 seconds" })
      yield* say(`received from ${result.from}: ${result.expression} = ${result.value}`)
      yield* check("a channel message from the remote server", result.value, 42)
    }).pipe(Effect.provide(layer), Effect.scoped) // the connection closes here
    if (own !== undefined) {
      yield* check("the demo's remote server stopped cleanly (SIGTERM, exit 0)", yield* own.stopped, 0)
    }
  }).pipe(Effect.scoped)
)

// ------------------------------------------------------------------------------------------ main

const demos = { basic, channel, pipeline, "channel-detail": channelDetail }
const isDemo = (name: string): name is keyof typeof demos => Object.hasOwn(demos, name)

if (options.help || (options.demo !== "all" && !isDemo(options.demo))) {
  console.log(usage)
  process.exit(options.help ? 0 : 2)
}
const selected = options.demo === "all" ? Object.values(demos) : [demos[options.demo as keyof typeof demos]]

const program = Effect.gen(function* () {
  const started = Date.now()
  yield* banner("Troupe Actor Demo")
  yield* Console.log(`
This demo showcases Troupe's actors:

1. Any behaviour becomes an actor: Effect handlers or a plain class
2. Actors run in-process, in worker threads, in child processes and on remote hosts (TCP)
3. The same typed API whatever the backend: errors and streams included
4. Typed channels connect actors across backends`)
  for (const run of selected) yield* run
  if (options["with-remote"]) yield* remote
  const { passed, failed } = tally()
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  yield* banner(
    failed === 0 ? `✓ All ${passed} checks passed in ${seconds} s` : `✗ ${failed} of ${passed + failed} checks failed`
  )
}).pipe(
  Effect.provide(
    Layer.mergeAll(
      CalculatorLive,
      DataProcessorLive,
      ProducerLive,
      ConsumerLive,
      AggregatorLive,
      Workers.layer({ host, size: 2 }),
      Subprocess.layer({ host })
    )
  )
)

// exits non-zero if the program failed or any check did
NodeRuntime.runMain(program, {
  teardown: (exit, onExit) =>
    onExit(Exit.isSuccess(exit) ? (tally().failed === 0 ? 0 : 1) : Cause.hasInterruptsOnly(exit.cause) ? 130 : 1)
})
