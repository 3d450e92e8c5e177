/**
 * Counts topic deliveries per subscriber and checks their order: each subscriber must see seq 0, 1, 2,
 * ... with none missing. Used both by the in-process PubSub baselines and by the Troupe subscribers
 * running on nodes, so that both sides of the comparison count the same way.
 */
import { Effect, Exit } from "effect"

export interface Progress {
  readonly reached: number
  readonly deliveries: number
  readonly errors: number
}

export class SequenceTracker {
  private readonly last: Array<number> = []
  deliveries = 0
  errors = 0
  private target = -1
  private reached = 0
  private wake: (() => void) | undefined = undefined

  /** A new subscriber; its index is what `received` takes. */
  addSubscriber(): number {
    return this.last.push(-1) - 1
  }

  get subscribers(): number {
    return this.last.length
  }

  received(i: number, seq: number): void {
    if (seq !== this.last[i]! + 1) this.errors++
    this.last[i] = seq
    this.deliveries++
    if (seq === this.target && ++this.reached === this.last.length && this.wake !== undefined) {
      const w = this.wake
      this.wake = undefined
      w()
    }
  }

  progress(): Progress {
    return { reached: this.reached, deliveries: this.deliveries, errors: this.errors }
  }

  /** Completes once every subscriber has seen `seq`. */
  until(seq: number): Effect.Effect<Progress> {
    return Effect.callback<Progress>((resume) => {
      this.target = seq
      this.reached = this.last.filter((s) => s >= seq).length
      if (this.reached === this.last.length) return resume(Exit.succeed(this.progress()))
      this.wake = () => resume(Exit.succeed(this.progress()))
    })
  }
}
