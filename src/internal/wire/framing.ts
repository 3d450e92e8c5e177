/**
 * Length-prefixed framing for byte streams (a child's pipe, a TCP socket): each batch travels as a
 * 4-byte big-endian length and that many bytes of CBOR. The declared length is checked against the
 * limit before anything is buffered, so a hostile length cannot make the reader allocate.
 */

/** Default largest batch accepted from a peer: 64 MiB. */
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024

/** One batch with its length prefix, in a fresh buffer the caller may keep. */
export const encodeFrame = (bytes: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + bytes.length)
  const n = bytes.length
  out[0] = n >>> 24
  out[1] = (n >>> 16) & 0xff
  out[2] = (n >>> 8) & 0xff
  out[3] = n & 0xff
  out.set(bytes, 4)
  return out
}

/**
 * Splits a byte stream into batches. `push` returns the complete batches found so far, or a string
 * saying why the stream is malformed (then the connection must be closed).
 */
export class FrameReader {
  private readonly maxFrame: number
  private pending: Uint8Array | undefined = undefined
  constructor(maxFrame: number = DEFAULT_MAX_FRAME) {
    this.maxFrame = maxFrame
  }

  /** The same reader (and what it has buffered) with another limit. */
  withLimit(maxFrame: number): FrameReader {
    const next = new FrameReader(maxFrame)
    next.pending = this.pending
    return next
  }

  /** Bytes buffered while waiting for the rest of a batch. */
  get buffered(): number {
    return this.pending?.length ?? 0
  }

  push(chunk: Uint8Array): Array<Uint8Array> | string {
    let buf = chunk
    if (this.pending !== undefined) {
      const joined = new Uint8Array(this.pending.length + chunk.length)
      joined.set(this.pending, 0)
      joined.set(chunk, this.pending.length)
      buf = joined
      this.pending = undefined
    }
    const out: Array<Uint8Array> = []
    let at = 0
    while (buf.length - at >= 4) {
      const n = ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!) >>> 0
      if (n === 0) return "a zero-length frame"
      if (n > this.maxFrame) return `a frame of ${n} bytes exceeds the limit of ${this.maxFrame}`
      if (buf.length - at - 4 < n) break
      out.push(buf.subarray(at + 4, at + 4 + n))
      at += 4 + n
    }
    if (at < buf.length) this.pending = buf.slice(at)
    return out
  }
}
