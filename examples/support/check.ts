/**
 * The examples check their own results: `check` prints a ✓ line, or a ✗ line and sets a failing exit
 * code, so `npm run examples` (and a reader) can tell at a glance that an example did what it says.
 */
import { Effect } from "effect"

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

let passed = 0
let failed = 0

/** Prints `✓ label` when `actual` equals `expected` (compared as JSON), else `✗` and fails the process. */
export const check = (label: string, actual: unknown, expected: unknown): Effect.Effect<void> =>
  Effect.sync(() => {
    if (same(actual, expected)) {
      passed++
      console.log(`  ✓ ${label}`)
    } else {
      failed++
      console.log(`  ✗ ${label}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`)
      process.exitCode = 1
    }
  })

/** How many checks have passed and failed so far in this process. */
export const tally = (): { readonly passed: number; readonly failed: number } => ({ passed, failed })

/** Runs an example's main Effect; any failure is printed and fails the process. */
export const run = <A, E>(program: Effect.Effect<A, E>): void => {
  Effect.runPromiseExit(program).then((exit) => {
    if (exit._tag === "Failure") {
      console.error("  ✗ the example failed:", exit.cause)
      process.exitCode = 1
    }
  })
}
