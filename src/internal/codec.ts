/**
 * The value codec shared by the wire and by the local serialize-messages test mode: a method's Schema
 * encodes a value to its Encoded form, cbor-x turns that into bytes (Uint8Array, Date, bigint, Map and
 * Set travel natively), and the way back validates with the same Schema. Every failure is an ActorError
 * with reason DecodeError naming the actor, the method, the part and the Schema issue.
 */
import { Exit, Schema, SchemaAST } from "effect"
import { Encoder } from "cbor-x"
import * as ActorError from "../ActorError.ts"
import type { Method } from "../Protocol.ts"

/** The CBOR encoder: plain maps decode as objects; no record extension, so any CBOR peer can read frames. */
export const cbor = new Encoder({ useRecords: false, mapsAsObjects: true } as any)

/** Which part of a message a codec step works on. */
export type Part = "payload" | "success" | "error" | "stream" | "actorError"

interface SchemaCodec {
  readonly encode: (u: unknown) => Exit.Exit<unknown, Schema.SchemaError>
  readonly decode: (u: unknown) => Exit.Exit<unknown, Schema.SchemaError>
}

const codecs = new WeakMap<Schema.Top, SchemaCodec>()

/** Declarations whose runtime values cbor-x carries as they are (their type parameters are checked too). */
const cborNative = new Set([
  "effect/schema/Date",
  "effect/schema/Uint8Array",
  "effect/schema/ReadonlyMap",
  "effect/schema/ReadonlySet"
])

const representationId = (ast: SchemaAST.Declaration): unknown =>
  (ast.annotations?.representation as { readonly id?: unknown } | undefined)?.id

/**
 * Whether a Schema's Encoded form is made only of what CBOR carries natively: primitives, arrays, plain
 * objects, Date, Uint8Array, bigint, Map and Set. Effect's own data types (Option, Chunk, HashMap,
 * DateTime, Duration, Exit, Error, ...) encode to themselves, which CBOR would turn into plain objects.
 */
const isCborSafe = (schema: Schema.Top): boolean => {
  const seen = new Set<SchemaAST.AST>()
  const safe = (ast: SchemaAST.AST): boolean => {
    const encoded = SchemaAST.toEncoded(ast)
    if (seen.has(encoded)) return true
    seen.add(encoded)
    switch (encoded._tag) {
      case "Declaration":
        return cborNative.has(representationId(encoded) as string) && encoded.typeParameters.every(safe)
      case "Objects":
        return (
          encoded.propertySignatures.every((ps) => safe(ps.type)) &&
          encoded.indexSignatures.every((is) => safe(is.parameter) && safe(is.type))
        )
      case "Arrays":
        return encoded.elements.every(safe) && encoded.rest.every(safe)
      case "Union":
        return encoded.types.every(safe)
      case "Suspend":
        return safe(encoded.thunk())
      default:
        return true
    }
  }
  return safe(schema.ast)
}

/**
 * The codec a value travels with: the Schema itself when its Encoded form is CBOR-native (so bytes,
 * dates and bigints stay binary), otherwise the Schema's canonical JSON codec, which gives every Effect
 * data type a plain form. Both ends derive the same codec from the same Schema.
 */
const codecOf = (schema: Schema.Top): SchemaCodec => {
  let c = codecs.get(schema)
  if (c === undefined) {
    const wire = (isCborSafe(schema) ? schema : Schema.toCodecJson(schema)) as Schema.Codec<unknown, unknown>
    const full = { encode: Schema.encodeUnknownExit(wire), decode: Schema.decodeUnknownExit(wire) }
    c = shortcut(schema.ast, full) ?? full
    codecs.set(schema, c)
  }
  return c
}

const plain = (ast: SchemaAST.AST): boolean =>
  ast.checks === undefined && ast.encoding === undefined && ast.context === undefined

/** A `typeof` test equivalent to a bare Number, String or Boolean Schema (no checks, no transformation). */
const primitiveTest = (ast: SchemaAST.AST): ((u: unknown) => boolean) | undefined => {
  if (!plain(ast)) return undefined
  switch (ast._tag) {
    case "Number":
      return (u) => typeof u === "number"
    case "String":
      return (u) => typeof u === "string"
    case "Boolean":
      return (u) => typeof u === "boolean"
    default:
      return undefined
  }
}

/**
 * The same codec, hand-written, for the Schemas most messages use: `Void`, a bare number, string or
 * boolean, and a struct of those (what `payload: { a: Schema.Number, ... }` builds). Schema's generic
 * parser takes ~60 ns for a two-number struct; this takes a few. It accepts exactly what the Schema
 * accepts (an object that is not an array, each declared key holding its type, excess keys dropped) and
 * hands anything else to `full`, so a failure still carries the Schema's own issue.
 */
const shortcut = (ast: SchemaAST.AST, full: SchemaCodec): SchemaCodec | undefined => {
  if (!plain(ast)) return undefined
  if (ast._tag === "Void") return { encode: () => Exit.void, decode: () => Exit.void }
  const test = primitiveTest(ast)
  if (test !== undefined) {
    return {
      encode: (u) => (test(u) ? Exit.succeed(u) : full.encode(u)),
      decode: (u) => (test(u) ? Exit.succeed(u) : full.decode(u))
    }
  }
  // a struct without keys passes any object through whole: left to Schema
  if (!SchemaAST.isObjects(ast) || ast.indexSignatures.length > 0 || ast.propertySignatures.length === 0) {
    return undefined
  }
  const keys: Array<string> = []
  const tests: Array<(u: unknown) => boolean> = []
  for (const ps of ast.propertySignatures) {
    const t = primitiveTest(ps.type)
    if (typeof ps.name !== "string" || ps.name === "__proto__" || t === undefined) return undefined
    keys.push(ps.name)
    tests.push(t)
  }
  const copy = (u: unknown, otherwise: (u: unknown) => Exit.Exit<unknown, Schema.SchemaError>) => {
    if (typeof u !== "object" || u === null || Array.isArray(u)) return otherwise(u)
    const out: Record<string, unknown> = {}
    for (let i = 0; i < keys.length; i++) {
      const v = (u as Record<string, unknown>)[keys[i]!]
      if (!tests[i]!(v)) return otherwise(u)
      out[keys[i]!] = v
    }
    return Exit.succeed(out)
  }
  return { encode: (u) => copy(u, full.encode), decode: (u) => copy(u, full.decode) }
}

const schemaOf = (method: Method, part: Part): Schema.Top =>
  part === "payload"
    ? method.payload
    : part === "success" || part === "stream"
      ? method.success
      : part === "error"
        ? method.error
        : ActorError.ActorError

const decodeError = (actorId: string, method: Method, part: Part, message: string): ActorError.ActorError =>
  ActorError.make(new ActorError.DecodeError({ actorId, method: method.name, part, message }))

const issueMessage = (exit: Exit.Exit<unknown, Schema.SchemaError>): string => {
  if (Exit.isFailure(exit)) {
    for (const r of exit.cause.reasons) {
      if (r._tag === "Fail") return r.error.message
      if (r._tag === "Die") return String(r.defect)
    }
  }
  return "unknown codec failure"
}

/** Schema-encodes a value with any Schema (channels and topics). */
export const encodeWith = (schema: Schema.Top, value: unknown): Exit.Exit<unknown, Schema.SchemaError> =>
  codecOf(schema).encode(value)

/** Schema-decodes (validates) a value with any Schema (channels and topics). */
export const decodeWith = (schema: Schema.Top, value: unknown): Exit.Exit<unknown, Schema.SchemaError> =>
  codecOf(schema).decode(value)

/** Schema-encodes one part of a message. */
export const encode = (
  actorId: string,
  method: Method,
  part: Part,
  value: unknown
): Exit.Exit<unknown, ActorError.ActorError> => {
  const exit = codecOf(schemaOf(method, part)).encode(value)
  return Exit.isSuccess(exit)
    ? (exit as Exit.Exit<unknown, never>)
    : Exit.fail(decodeError(actorId, method, part, `encode: ${issueMessage(exit)}`))
}

/** Schema-decodes (validates) one part of a message. */
export const decode = (
  actorId: string,
  method: Method,
  part: Part,
  value: unknown
): Exit.Exit<unknown, ActorError.ActorError> => {
  const exit = codecOf(schemaOf(method, part)).decode(value)
  return Exit.isSuccess(exit)
    ? (exit as Exit.Exit<unknown, never>)
    : Exit.fail(decodeError(actorId, method, part, `decode: ${issueMessage(exit)}`))
}

/**
 * Sends a value the whole way a wire would: Schema encode, CBOR bytes, CBOR decode, Schema decode.
 * Used by the serialize-messages test mode so local tests catch what would break on a wire.
 */
export const roundTrip = (
  actorId: string,
  method: Method,
  part: Part,
  value: unknown
): Exit.Exit<unknown, ActorError.ActorError> => {
  const encoded = encode(actorId, method, part, value)
  if (Exit.isFailure(encoded)) return encoded
  let copy: unknown
  try {
    copy = cbor.decode(cbor.encode(encoded.value))
  } catch (e) {
    return Exit.fail(decodeError(actorId, method, part, `cbor: ${e instanceof Error ? e.message : String(e)}`))
  }
  return decode(actorId, method, part, copy)
}

/**
 * Round-trips a handler's outcome: a success through the success Schema, a declared error through the
 * error Schema, an ActorError through ActorError's own Schema.
 */
export const roundTripExit = (
  actorId: string,
  method: Method,
  exit: Exit.Exit<unknown, unknown>
): Exit.Exit<unknown, unknown> => {
  if (Exit.isSuccess(exit)) return roundTrip(actorId, method, "success", exit.value)
  const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (failure === undefined || failure._tag !== "Fail") return exit
  const part: Part = ActorError.isActorError(failure.error) ? "actorError" : "error"
  const copied = roundTrip(actorId, method, part, failure.error)
  return Exit.isSuccess(copied) ? Exit.fail(copied.value) : copied
}

const encodeActorErrorExit = Schema.encodeUnknownExit(ActorError.ActorError)
const decodeActorErrorExit = Schema.decodeUnknownExit(ActorError.ActorError)

/** The encoded form of an ActorError (its own Schema), for REPLY and END frames. */
export const encodeActorError = (error: ActorError.ActorError): unknown => {
  const exit = encodeActorErrorExit(error)
  if (Exit.isSuccess(exit)) return exit.value
  // a reason that cannot encode (should not happen): send what the receiver can still decode
  return { _tag: "ActorError", reason: { _tag: "ProtocolError", node: "", message: error.message } }
}

/** Decodes an ActorError from a frame; a malformed one becomes a DecodeError naming the actor and method. */
export const decodeActorErrorOrDecodeError = (value: unknown, actorId = "", method = ""): ActorError.ActorError => {
  const exit = decodeActorErrorExit(value)
  if (Exit.isSuccess(exit)) return exit.value
  return ActorError.make(
    new ActorError.DecodeError({ actorId, method, part: "actorError", message: `decode: ${issueMessage(exit)}` })
  )
}
