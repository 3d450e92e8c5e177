/**
 * The behavioural spec against every backend: in-process (plain and with serialize-messages),
 * worker threads and child processes, all with the same tests.
 */
import { Layer } from "effect"
import { ActorSystem } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { GateLive, WorkerLive } from "./fixtures/spec-actors.ts"
import { behaviourSpec } from "./spec/behaviour.ts"

const host = new URL("./fixtures/spec-host.ts", import.meta.url)
const behaviours = Layer.mergeAll(GateLive, WorkerLive)

behaviourSpec("in-process", {
  layer: Layer.merge(behaviours, ActorSystem.layer()),
  backend: undefined
})

behaviourSpec("in-process, serialize-messages", {
  layer: Layer.merge(behaviours, ActorSystem.layer({ serializeMessages: true })),
  backend: undefined
})

behaviourSpec("worker threads", { layer: Workers.layer({ host }), backend: Workers })

behaviourSpec("child processes", { layer: Subprocess.layer({ host }), backend: Subprocess })
