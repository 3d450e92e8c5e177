/**
 * The raw fork IPC peer: a child started with `child_process.fork()` that answers `{ id, a, b }` with
 * `{ id, r: a + b }`, one IPC message per call (Node's default "json" serialization), no batching. Id 0
 * is one-way (the casts table): it adds `a + b` to a total and answers nothing; `{ id, a: -1 }` answers
 * that total.
 */
interface AddRequest {
  readonly id: number
  readonly a: number
  readonly b: number
}

let noted = 0
process.on("message", (m: AddRequest) => {
  if (m.id === 0) noted += m.a + m.b
  else process.send!({ id: m.id, r: m.a === -1 ? noted : m.a + m.b })
})
