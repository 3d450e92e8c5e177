/**
 * Runs the vitest suite (`npm test`), and once more only the test files whose vitest process died of a
 * native signal with no test failed: V8 13 (Node 24) aborts now and then in its JIT-page registry
 * ("Check failed: jit_page.has_value()", or a SIGSEGV) in processes that start and end many worker
 * threads (nodejs/node#64500), about one full run in ten here. Any failed test, or a second crash, fails.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

interface Report {
  readonly numFailedTests: number
  readonly testResults: ReadonlyArray<{ readonly name: string; readonly status: string }>
}

const dir = mkdtempSync(join(tmpdir(), "troupe-vitest-"))

/** Runs vitest, printing its output as it comes; returns its exit code, its output and its JSON report. */
const vitest = (files: ReadonlyArray<string>, n: number) =>
  new Promise<{ code: number; output: string; report: Report | undefined }>((resolve) => {
    const json = join(dir, `report-${n}.json`)
    const child = spawn(
      process.execPath,
      [
        "node_modules/vitest/vitest.mjs",
        "run",
        "--reporter=default",
        "--reporter=json",
        `--outputFile=${json}`,
        ...files
      ],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    child.stdout.on("data", (d: Buffer) => {
      output += d
      process.stdout.write(d)
    })
    child.stderr.on("data", (d: Buffer) => {
      output += d
      process.stderr.write(d)
    })
    child.on("close", (code) => {
      let report: Report | undefined
      try {
        report = JSON.parse(readFileSync(json, "utf8")) as Report
      } catch {
        report = undefined
      }
      resolve({ code: code ?? 1, output, report })
    })
  })

/** The files whose vitest worker died of a signal, if that is every failure of the run; else undefined. */
const crashedOnly = (output: string, report: Report | undefined): ReadonlyArray<string> | undefined => {
  if (report === undefined || report.numFailedTests > 0) return undefined
  // the output's colours, around the file's name
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "")
  const crashed = new Set(
    Array.from(
      plain.matchAll(/Worker exited unexpectedly with signal SIG\w+ during \w+ state while running test file (\S+)/g),
      (m) => m[1]!
    )
  )
  const failed = report.testResults.filter((r) => r.status !== "passed").map((r) => r.name)
  if (crashed.size === 0 || failed.some((name) => !crashed.has(name))) return undefined
  return Array.from(crashed)
}

const first = await vitest(process.argv.slice(2), 1)
let code = first.code
if (code !== 0) {
  const crashed = crashedOnly(first.output, first.report)
  if (crashed !== undefined) {
    console.log(
      `\nnote: the process running ${crashed.join(", ")} died of a native signal with no test failed ` +
        "(V8's JIT-page check, nodejs/node#64500): running those files once more\n"
    )
    const second = await vitest(crashed, 2)
    code = second.code
  }
}
rmSync(dir, { recursive: true, force: true })
process.exit(code)
