/**
 * piscina's worker file in bench/pool.bench.ts: its default export is the task, `{ key, rounds }` → the
 * stretching job of ./stretch.ts. piscina loads it in each of its threads and calls it once per `run`.
 */
import { stretch } from "./stretch.ts"

export interface Job {
  readonly key: number
  readonly rounds: number
}

export default ({ key, rounds }: Job): number => stretch(key, rounds)
