/**
 * Server processes for the TCP benchmarks: `troupe serve` (the built dist/node/cli.js) hosting a bench
 * host module with a secret, and a forked bench server script that reports its port over IPC. The code
 * is shared by tcp.bench.ts and cluster.bench.ts.
 */
import { fork, spawn, type ChildProcess } from "node:child_process"
import { once } from "node:events"
import { fileURLToPath } from "node:url"

const cli = fileURLToPath(new URL("../../dist/node/cli.js", import.meta.url))

/**
 * Starts `troupe serve --host <host> --port 0 <hostModule>` with TROUPE_SECRET set and resolves with the
 * process and the port it listens on. Rejects if the server runs without a secret: the figures are for
 * an authenticated connection, as users would run it.
 */
export const startTroupeServe = async (
  hostModule: string,
  options: { readonly host: string; readonly secret: string }
): Promise<{ readonly served: ChildProcess; readonly port: number }> => {
  const served = spawn(process.execPath, [cli, "serve", "--host", options.host, "--port", "0", hostModule], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, TROUPE_SECRET: options.secret }
  })
  const port = await new Promise<number>((resolve, reject) => {
    let output = ""
    served.stdout!.on("data", (d: Buffer) => {
      output += d.toString()
      const m = /listening on [^\s]+:(\d+)/.exec(output)
      if (m === null) return
      if (!/secret: yes/.test(output)) reject(new Error(`troupe serve runs without a secret:\n${output}`))
      resolve(Number(m[1]))
    })
    served.once("exit", (code) => reject(new Error(`troupe serve exited with ${String(code)}:\n${output}`)))
  })
  return { served, port }
}

/** Forks a bench server script and waits for the `{ port }` it sends over IPC once it listens. */
export const forkServer = async (
  script: string,
  args: ReadonlyArray<string> = []
): Promise<{ readonly child: ChildProcess; readonly port: number }> => {
  const child = fork(script, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] })
  const [message] = (await Promise.race([
    once(child, "message"),
    once(child, "exit").then(([code]) => {
      throw new Error(`${script} ${args.join(" ")} exited with ${String(code)} before listening`)
    })
  ])) as [{ port: number }]
  return { child, port: message.port }
}

/** Stops a forked server: closing its IPC channel is its signal to exit. */
export const stopForked = async (child: ChildProcess): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, "exit")
  child.disconnect()
  await exited
}
