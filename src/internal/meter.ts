/**
 * The meter of one actor: plain counters and a latency histogram that the cell updates as messages go
 * through it. Cells get one only once their node is inspected (or an Inspector runs there), so an actor
 * nobody watches pays nothing; reading them, and turning them into Metrics, is the Inspector's job.
 */

/** Upper bounds of the latency buckets, in milliseconds; one more bucket holds what is slower. */
export const latencyBounds: ReadonlyArray<number> = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
]

const clock: { now(): number } = globalThis.performance ?? Date

/** Milliseconds on a monotonic clock, for latencies. */
export const now = (): number => clock.now()

/**
 * Reading the clock costs about 40 ns, twice per message: a third of an in-process call. So after each
 * report the next `timedInFull` messages are timed one by one, and past them one in `stride`, counted
 * `stride` times: the histogram stays an unbiased estimate of every message's latency (its count follows
 * `handled`), a quiet actor has all its messages timed, and a busy one pays for a sixteenth of them.
 */
export const timedInFull = 256
export const stride = 16

/** @internal */
export class Meter {
  /** Messages admitted to the mailbox. */
  received = 0
  /** Messages whose handler finished (successfully or not). */
  handled = 0
  /** Handlers that failed: a declared error, an ActorError or a defect. */
  failures = 0
  /** Of those, the defects (a thrown exception, a rejected Promise, `Effect.die`). */
  defects = 0
  restarts = 0
  /** Summary of the last failure, for the inspector. */
  lastError: string | undefined = undefined
  /** Weighted count per latency bucket (not cumulative); the last one is past the highest bound. */
  readonly buckets: Array<number> = new Array(latencyBounds.length + 1).fill(0)
  latencySum = 0
  latencyMax = 0
  private full = timedInFull
  private skipped = 0

  /**
   * A message enters the mailbox: the weight it will count with in the histogram, or 0 if it is not
   * timed.
   */
  admit(): number {
    this.received++
    if (this.full > 0) {
      this.full--
      return 1
    }
    if (++this.skipped < stride) return 0
    this.skipped = 0
    return stride
  }

  /** A report has been taken: time the next messages one by one again. */
  reported(): void {
    this.full = timedInFull
  }

  /** A timed message has been answered, `ms` after it was sent; it stands for `weight` messages. */
  record(ms: number, weight: number): void {
    this.latencySum += ms * weight
    if (ms > this.latencyMax) this.latencyMax = ms
    // most latencies are small: a scan from the bottom finds their bucket in a few steps
    let i = 0
    while (i < latencyBounds.length && ms > latencyBounds[i]!) i++
    this.buckets[i]! += weight
  }

  failed(defect: boolean, message: string): void {
    this.failures++
    if (defect) this.defects++
    this.lastError = message.length > 300 ? `${message.slice(0, 297)}...` : message
  }
}
