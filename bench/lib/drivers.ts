/**
 * Call drivers shared by the benchmark files: turn "one call `add(a, b)`" into the two workloads of the
 * tables, for an Effect API (fibers) or a Promise API (async functions).
 *
 *   - pipelined: `inFlight` callers (64 fibers, or 64 async loops) each make n/64 sequential calls;
 *   - sequential: one caller, one call in flight; with a Recorder, every call is timed.
 *
 * Each call sends `a = i, b = 1` and the driver checks the sum of the replies, so a system that did the
 * wrong work throws instead of printing a figure.
 */
import { Effect, Fiber } from "effect"
import { performance } from "node:perf_hooks"
import { expectEqual, type Recorder, type Workload } from "./harness.ts"

/** Callers in the pipelined workload, so calls in flight. */
export const inFlight = 64

export type EffectCall = (a: number, b: number) => Effect.Effect<number, unknown>
export type PromiseCall = (a: number, b: number) => Promise<number>

export interface CallDriver {
  readonly pipelined: Workload
  readonly sequential: Workload
}

/** Sum of (i + 1) for i in [0, k): what k calls `add(i, 1)` return in total. */
export const expectedSum = (k: number): number => (k * (k + 1)) / 2

export const effectLoop = (call: EffectCall, n: number, recorder?: Recorder) =>
  Effect.gen(function* () {
    let sum = 0
    if (recorder === undefined) {
      for (let i = 0; i < n; i++) sum += yield* call(i, 1)
    } else {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        sum += yield* call(i, 1)
        recorder.add(performance.now() - t0)
      }
    }
    return sum
  })

/** Drives an Effect call: 64 fibers (`Effect.forkChild` + `Fiber.joinAll`), or one fiber. */
export const effectCalls = (call: EffectCall): CallDriver => ({
  pipelined: (n) =>
    Effect.runPromise(
      Effect.gen(function* () {
        const per = n / inFlight
        const fibers: Array<Fiber.Fiber<number, unknown>> = []
        for (let f = 0; f < inFlight; f++) fibers.push(yield* Effect.forkChild(effectLoop(call, per)))
        const sums = yield* Fiber.joinAll(fibers)
        for (const s of sums) expectEqual("pipelined sum", s, expectedSum(per))
      })
    ),
  sequential: (n, recorder) =>
    Effect.runPromise(effectLoop(call, n, recorder)).then((s) => expectEqual("sequential sum", s, expectedSum(n)))
})

export const promiseLoop = async (call: PromiseCall, n: number, recorder?: Recorder): Promise<number> => {
  let sum = 0
  if (recorder === undefined) {
    for (let i = 0; i < n; i++) sum += await call(i, 1)
  } else {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now()
      sum += await call(i, 1)
      recorder.add(performance.now() - t0)
    }
  }
  return sum
}

/** Drives a Promise call: 64 async loops (`Promise.all`), or one. */
export const promiseCalls = (call: PromiseCall): CallDriver => ({
  pipelined: async (n) => {
    const per = n / inFlight
    const sums = await Promise.all(Array.from({ length: inFlight }, () => promiseLoop(call, per)))
    for (const s of sums) expectEqual("pipelined sum", s, expectedSum(per))
  },
  sequential: async (n, recorder) => expectEqual("sequential sum", await promiseLoop(call, n, recorder), expectedSum(n))
})

/** Casts for `measureCasts`: `note(i, 1)` n times from one fiber, then the peer's total read by `noted`. */
export const effectCasts =
  (note: (a: number, b: number) => Effect.Effect<void, unknown>, noted: Effect.Effect<number, unknown>) =>
  (n: number): Promise<number> =>
    Effect.runPromise(
      Effect.gen(function* () {
        for (let i = 0; i < n; i++) yield* note(i, 1)
        return yield* noted
      })
    )

/** A raw peer's casts: n one-way messages (id 0, which the peer adds up), then the total (`a: -1`). */
export const rawCasts =
  (send: (message: { id: number; a: number; b: number }) => void, call: PromiseCall) =>
  (n: number): Promise<number> => {
    for (let i = 0; i < n; i++) send({ id: 0, a: i, b: 1 })
    return call(-1, 0)
  }

/**
 * Replies matched by id, for the raw peers: `call` registers a resolver under a fresh id and sends;
 * the peer's `{ id, r }` reply resolves it. The resolvers sit in a ring of slots indexed by the id, not
 * in a `Map`: a `Map` churned by one set and one delete per call, left idle while another system runs,
 * then churned again, keeps young garbage alive through its discarded hash tables (docs/architecture.md,
 * decision 19), which would slow every system measured after it. Ids are sequential and at most 64 are
 * in flight, so a slot is free again long before the ring comes round to it.
 */
export const byId = (send: (message: { id: number; a: number; b: number }) => void) => {
  const slots = 1024
  const ids = new Array<number>(slots).fill(-1)
  const resolvers = new Array<((r: number) => void) | undefined>(slots).fill(undefined)
  let pending = 0
  let next = 0
  return {
    call: (a: number, b: number): Promise<number> =>
      new Promise<number>((resolve) => {
        const id = ++next
        const slot = id & (slots - 1)
        if (ids[slot] !== -1) throw new Error(`request ${ids[slot]} still pending when ${id} needs its slot`)
        ids[slot] = id
        resolvers[slot] = resolve
        pending++
        send({ id, a, b })
      }),
    receive: (reply: { readonly id: number; readonly r: number }): void => {
      const slot = reply.id & (slots - 1)
      const resolve = resolvers[slot]
      if (ids[slot] !== reply.id || resolve === undefined) throw new Error(`a reply to unknown request ${reply.id}`)
      ids[slot] = -1
      resolvers[slot] = undefined
      pending--
      resolve(reply.r)
    },
    get pending(): number {
      return pending
    }
  }
}
