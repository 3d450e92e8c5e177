/**
 * A large struct: a Document of about 2 MB (about 1 MB of text in 256 pages, with accents and emoji, plus
 * a 1 MiB Uint8Array and a Date) goes to an Archive in a worker thread and in a child process, and
 * comes back. The far side hashes what it got; the copy that comes back is a real `Document`,
 * compared byte for byte. Bytes travel as CBOR byte strings (no base64), transferred to the worker.
 * Run: npx tsx examples/large-struct.ts
 */
import { Duration, Effect, Layer } from "effect"
import { Actor, ActorRef } from "troupe"
import { Subprocess, Workers } from "troupe/node"
import { Archive, digest, Document } from "./hosts/archive.ts"
import { check, run } from "./support/check.ts"

const host = new URL("./hosts/archive.ts", import.meta.url)

const document = new Document({
  title: "the big one",
  pages: Array.from({ length: 256 }, (_, i) =>
    `page ${i} – ünïcødé ✓ 🎭 `.padEnd(4096, "abcdefghijklmnopqrstuvwxyz"[i % 26])
  ),
  attachment: Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31 + (i >> 8)) & 0xff),
  createdAt: new Date(Date.UTC(2026, 0, 1))
})

const sameDocument = (a: Document, b: Document) =>
  a.title === b.title &&
  a.createdAt.getTime() === b.createdAt.getTime() &&
  a.pages.length === b.pages.length &&
  a.pages.every((page, i) => page === b.pages[i]) &&
  Buffer.from(a.attachment).equals(b.attachment)

const roundTrip = (label: string, archive: ActorRef.ActorRef<typeof Archive>) =>
  Effect.gen(function* () {
    const [took, [receipt, back]] = yield* Effect.timed(
      Effect.all([archive.store(document), archive.fetch({ title: document.title })])
    )
    console.log(`  ${label} (pid ${receipt.pid}): there and back in ${Duration.toMillis(took).toFixed(0)} ms`)
    yield* check(`${label}: the far side hashed the same bytes`, receipt.sha256, digest(document))
    yield* check(`${label}: a Document came back`, back instanceof Document && back !== document, true)
    yield* check(`${label}: byte for byte the same`, sameDocument(back, document), true)
  })

const program = Effect.gen(function* () {
  const pages = document.pages.reduce((n, page) => n + Buffer.byteLength(page), 0)
  console.log(`  a Document of ${pages} bytes of text and ${document.attachment.length} bytes of attachment`)
  yield* roundTrip("worker thread", yield* Actor.spawn(Archive, { id: "archive", backend: Workers }))
  yield* roundTrip("child process", yield* Actor.spawn(Archive, { id: "archive", backend: Subprocess }))
})

run(program.pipe(Effect.provide(Layer.merge(Workers.layer({ host }), Subprocess.layer({ host })))))
