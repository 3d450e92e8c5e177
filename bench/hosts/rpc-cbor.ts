/**
 * An `RpcSerialization` for effect/rpc over TCP that carries the same bytes as Troupe and the raw TCP
 * peers: length-prefixed CBOR frames (a 4-byte big-endian length, then cbor-x without its record
 * extension). The payloads and exits are encoded with `Schema.toCodecJson`, as effect's own JSON
 * serializations do, so CBOR only changes how the JSON-shaped message becomes bytes. This is the
 * outline of docs/effect-4.1.md (section 10), filled in.
 */
import { Layer, Schema } from "effect"
import { RpcSerialization } from "effect/rpc"
import { frameReader, makeCbor } from "../lib/frames.ts"

const frameOf = (bytes: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + bytes.length)
  new DataView(out.buffer).setUint32(0, bytes.length)
  out.set(bytes, 4)
  return out
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

export const cbor: RpcSerialization.RpcSerialization["Service"] = RpcSerialization.RpcSerialization.of({
  contentType: "application/cbor",
  includesFraming: true,
  codecFor: Schema.toCodecJson as RpcSerialization.CodecFor,
  makeUnsafe: () => {
    const encoder = makeCbor()
    let decoded: Array<unknown> = []
    const read = frameReader(encoder, (message) => decoded.push(message))
    return {
      decode: (data) => {
        read(typeof data === "string" ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.length))
        const out = decoded
        decoded = []
        return out
      },
      encode: (message) => {
        if (!Array.isArray(message)) return frameOf(encoder.encode(message))
        if (message.length === 0) return undefined
        return concat(message.map((m) => frameOf(encoder.encode(m))))
      }
    }
  }
})

export const layerCbor: Layer.Layer<RpcSerialization.RpcSerialization> = Layer.succeed(
  RpcSerialization.RpcSerialization
)(cbor)

/** The effect/rpc configurations tcp.bench.ts measures; client and server must agree on one. */
export type RpcVariant = "defaults" | "schema-binary" | "cbor"

/** The serialization of a configuration: ndjson by default, a binary one when tuned. */
export const serializationFor = (variant: RpcVariant): Layer.Layer<RpcSerialization.RpcSerialization> =>
  variant === "defaults"
    ? RpcSerialization.layerNdjson
    : variant === "schema-binary"
      ? RpcSerialization.layerSchemaBinary()
      : layerCbor
