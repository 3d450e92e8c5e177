/**
 * The raw fork IPC peer: a child started with `child_process.fork()` that answers `{ id, a, b }` with
 * `{ id, r: a + b }`, one IPC message per call (Node's default "json" serialization), no batching.
 */
interface AddRequest {
  readonly id: number
  readonly a: number
  readonly b: number
}

process.on("message", (m: AddRequest) => {
  process.send!({ id: m.id, r: m.a + m.b })
})
