/**
 * Passivation: the actors of one system spawned with an idle timeout, looked at by one sweep per clock
 * and timeout every quarter of that timeout, rather than by a timer per actor (which a message would have
 * to reset). The sweep stops an actor gracefully at the fourth look in a row that finds it idle, and ends
 * when it has no actor left to look at; its timer never keeps a process up by itself.
 */
import { Clock, Effect, type Fiber } from "effect"
import { type Cell, idleLooks } from "./cell.ts"

// the live clock's class, to tell it from a test's clock
const liveClock = Object.getPrototypeOf(Effect.runSync(Clock.clockWith(Effect.succeed)))

/**
 * The sweep's pause. On the live clock its timer is unref'd: actors waiting to passivate are no reason
 * for a process to stay up (a script that is done would otherwise wait out the timeout). On another clock
 * (`TestClock`), that clock's sleep, so that a test drives it.
 */
const wait = (clock: Clock.Clock, millis: number): Effect.Effect<void> =>
  Object.getPrototypeOf(clock) !== liveClock
    ? Effect.provideService(Effect.sleep(millis), Clock.Clock, clock)
    : Effect.callback<void>((resume) => {
        const timer = setTimeout(() => resume(Effect.void), millis)
        timer.unref?.()
        return Effect.sync(() => clearTimeout(timer))
      })

interface Sweep {
  readonly cells: Set<Cell>
  readonly fiber: Fiber.Fiber<void>
}

export class Passivation {
  // by clock, then timeout: actors of one system can run on different clocks (a test's TestClock)
  private readonly sweeps = new Map<Clock.Clock, Map<number, Sweep>>()
  /** Actors stopped for being idle, since the system began. */
  passivated = 0

  /** Gives the actor an idle timeout of `millis`. */
  add(cell: Cell, millis: number): void {
    cell.idle = 0
    const clock = cell.clock
    let byTimeout = this.sweeps.get(clock)
    if (byTimeout === undefined) this.sweeps.set(clock, (byTimeout = new Map()))
    let sweep = byTimeout.get(millis)
    if (sweep === undefined) {
      sweep = this.sweep(clock, byTimeout, millis)
      byTimeout.set(millis, sweep)
    }
    sweep.cells.add(cell)
  }

  /** A sweep of `millis` timeouts on `clock`, in `byTimeout`: it leaves that map once it has no actor. */
  private sweep(clock: Clock.Clock, byTimeout: Map<number, Sweep>, millis: number): Sweep {
    const cells = new Set<Cell>()
    const look = Effect.sync(() => {
      for (const c of cells) {
        if (!c.isAccepting) cells.delete(c)
        else if (c.idleLook()) {
          cells.delete(c)
          this.passivated++
          c.stop()
        }
      }
      // decided in the same step as the look: an actor added later starts a sweep of its own
      if (cells.size > 0) return true
      byTimeout.delete(millis)
      if (byTimeout.size === 0 && this.sweeps.get(clock) === byTimeout) this.sweeps.delete(clock)
      return false
    })
    const tick = Effect.andThen(wait(clock, millis / idleLooks), look)
    const loop: Effect.Effect<void> = Effect.flatMap(tick, (more) => (more ? loop : Effect.void))
    // the first look is a quarter of the timeout away: the caller adds the actor before it
    return { cells, fiber: Effect.runFork(loop) }
  }

  /** Ends every sweep (the system is closing: its actors are stopping anyway). */
  close(): void {
    for (const byTimeout of this.sweeps.values()) {
      for (const sweep of byTimeout.values()) sweep.fiber.interruptUnsafe()
    }
    this.sweeps.clear()
  }
}
