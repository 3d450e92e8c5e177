/**
 * Host module for examples/large-struct.ts: an Archive that keeps large documents (about 2 MB each,
 * half text, half bytes) and hashes what it received, so the sender can tell that every byte arrived.
 */
import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import { Actor } from "troupe"

export class Document extends Schema.Class<Document>("Document")({
  title: Schema.String,
  pages: Schema.Array(Schema.String),
  attachment: Schema.Uint8Array,
  createdAt: Schema.Date
}) {}

export class NotArchived extends Schema.TaggedError<NotArchived>()("NotArchived", { title: Schema.String }) {}

/** SHA-256 of a document's contents, computed the same way on both sides. */
export const digest = (doc: Document): string => {
  const hash = createHash("sha256").update(doc.title).update(doc.createdAt.toISOString())
  for (const page of doc.pages) hash.update(page)
  return hash.update(doc.attachment).digest("hex")
}

export const Archive = Actor.make("Archive", {
  store: {
    payload: Document,
    success: Schema.Struct({ sha256: Schema.String, pid: Schema.Number })
  },
  fetch: { payload: { title: Schema.String }, success: Document, error: NotArchived }
})

export const ArchiveLive = Archive.toLayer(
  Effect.sync(() => {
    const documents = new Map<string, Document>()
    return Archive.of({
      store: (doc) => {
        documents.set(doc.title, doc)
        return { sha256: digest(doc), pid: process.pid }
      },
      fetch: ({ title }) => {
        const doc = documents.get(title)
        return doc === undefined ? Effect.fail(new NotArchived({ title })) : Effect.succeed(doc)
      }
    })
  })
)
