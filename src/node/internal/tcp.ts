/**
 * TCP for the wire: a socket carrying length-prefixed CBOR batches, and the authentication that comes
 * before anything else on it. The server challenges with a random nonce; the client answers with an
 * HMAC-SHA256 of both nonces under the shared secret (and a session id); the server proves itself the
 * same way. Until that is done, only AUTH frames of a few hundred bytes are accepted.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"
import type { Socket } from "node:net"
import * as ActorError from "../../ActorError.ts"
import { cbor } from "../../internal/codec.ts"
import * as F from "../../internal/wire/frame.ts"
import { encodeFrame, FrameReader } from "../../internal/wire/framing.ts"

/** Largest batch accepted before authentication: an AUTH frame is well under this. */
export const PRE_AUTH_MAX_FRAME = 1024

/** A connected socket that moves length-prefixed batches. */
export class FramedSocket {
  readonly socket: Socket
  private reader: FrameReader
  private receive: ((bytes: Uint8Array) => void) | undefined = undefined
  private broken: ((why: string) => void) | undefined = undefined
  private closedWith: string | undefined = undefined
  private closeCallbacks: Array<(why: string) => void> = []

  constructor(socket: Socket, maxFrame: number) {
    this.socket = socket
    this.reader = new FrameReader(maxFrame)
    socket.setNoDelay(true)
    socket.on("data", (chunk: Buffer) => {
      if (this.closedWith !== undefined) return
      const frames = this.reader.push(chunk)
      if (typeof frames === "string") {
        this.broken?.(frames)
        return this.destroy(frames)
      }
      for (const frame of frames) {
        if (this.closedWith !== undefined) return
        this.receive?.(frame)
      }
    })
    socket.on("error", (e) => this.closed(e.message))
    socket.on("close", () => this.closed("the connection closed"))
  }

  /** Where batches go from now on; `broken` hears of a malformed length (the socket is then destroyed). */
  listen(receive: (bytes: Uint8Array) => void, broken?: (why: string) => void): void {
    this.receive = receive
    this.broken = broken
  }

  /** Raises the frame limit once the peer is authenticated. */
  setMaxFrame(maxFrame: number): void {
    this.reader = this.reader.withLimit(maxFrame)
  }

  /** One write per batch (the bytes are copied behind the length prefix). */
  write(bytes: Uint8Array): void {
    if (this.closedWith === undefined && this.socket.writable) this.socket.write(encodeFrame(bytes))
  }

  /** Writes a last batch, then closes the connection. */
  end(bytes?: Uint8Array): void {
    if (this.closedWith !== undefined) return
    if (bytes !== undefined && this.socket.writable) this.socket.end(encodeFrame(bytes))
    else this.socket.end()
    // a peer that never reads must not keep the socket half-open
    setTimeout(() => this.socket.destroy(), 1000).unref()
  }

  destroy(why: string): void {
    this.socket.destroy()
    this.closed(why)
  }

  onClose(cb: (why: string) => void): void {
    if (this.closedWith !== undefined) cb(this.closedWith)
    else this.closeCallbacks.push(cb)
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined
  }

  private closed(why: string): void {
    if (this.closedWith !== undefined) return
    this.closedWith = why
    for (const cb of this.closeCallbacks.splice(0)) cb(why)
  }
}

const mac = (secret: Uint8Array, label: string, first: Uint8Array, second: Uint8Array): Uint8Array =>
  createHmac("sha256", secret).update(label).update(first).update(second).digest()

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b)

const isBytes = (u: unknown, length?: number): u is Uint8Array =>
  u instanceof Uint8Array && (length === undefined || u.length === length)

const decodeSingle = (bytes: Uint8Array): Array<unknown> | undefined => {
  try {
    const batch = cbor.decode(bytes)
    return Array.isArray(batch) && batch.length === 1 && Array.isArray(batch[0]) ? batch[0] : undefined
  } catch {
    return undefined
  }
}

/** The server's side of the handshake, step by step. */
export class ServerAuth {
  private readonly nonce = randomBytes(32)
  private readonly secret: Uint8Array | undefined
  constructor(secret: Uint8Array | undefined) {
    this.secret = secret
  }

  /** The challenge, first batch on every connection. */
  challenge(): Uint8Array {
    return cbor.encode([[F.AUTH, 1, this.nonce, this.secret !== undefined]])
  }

  /**
   * Checks the client's answer. Returns the session id and the server's proof to send back, or why the
   * client is refused.
   */
  answer(bytes: Uint8Array): { readonly session: string; readonly proof: Uint8Array } | string {
    const f = decodeSingle(bytes)
    if (f === undefined || f[0] !== F.AUTH || f[1] !== 2 || f.length !== 5) {
      return "unauthorized: the first frame must answer the AUTH challenge"
    }
    const [, , clientNonce, clientMac, session] = f
    if (!isBytes(clientNonce, 32) || !isBytes(clientMac) || typeof session !== "string") {
      return "unauthorized: a malformed AUTH answer"
    }
    if (!/^[A-Za-z0-9_-]{8,64}$/.test(session)) return "unauthorized: a malformed session id"
    if (this.secret !== undefined) {
      if (!sameBytes(clientMac, mac(this.secret, "troupe/1 client", this.nonce, clientNonce))) {
        return "unauthorized: wrong or missing secret"
      }
      return {
        session,
        proof: cbor.encode([[F.AUTH, 3, mac(this.secret, "troupe/1 server", clientNonce, this.nonce)]])
      }
    }
    return { session, proof: cbor.encode([[F.AUTH, 3, new Uint8Array(0)]]) }
  }
}

/** The client's side of the handshake. */
export class ClientAuth {
  private readonly nonce = randomBytes(32)
  private serverNonce: Uint8Array | undefined = undefined
  private readonly secret: Uint8Array | undefined
  private readonly session: string
  private readonly node: string
  constructor(secret: Uint8Array | undefined, session: string, node: string) {
    this.secret = secret
    this.session = session
    this.node = node
  }

  private refused(message: string): ActorError.ActorError {
    return ActorError.make(new ActorError.Unauthorized({ node: this.node, message }))
  }

  /** Answers the server's challenge, or says why the client cannot. */
  answer(bytes: Uint8Array): Uint8Array | ActorError.ActorError {
    const f = decodeSingle(bytes)
    if (f !== undefined && f[0] === F.FAILED && typeof f[1] === "string") return this.refused(f[1])
    if (f === undefined || f[0] !== F.AUTH || f[1] !== 1 || !isBytes(f[2], 32) || typeof f[3] !== "boolean") {
      return ActorError.make(new ActorError.ProtocolError({ node: this.node, message: "expected an AUTH challenge" }))
    }
    this.serverNonce = f[2]
    const required = f[3]
    if (required && this.secret === undefined) return this.refused("the server requires a secret; none was given")
    const answer =
      required && this.secret !== undefined
        ? mac(this.secret, "troupe/1 client", this.serverNonce, this.nonce)
        : new Uint8Array(0)
    return cbor.encode([[F.AUTH, 2, this.nonce, answer, this.session]])
  }

  /** Checks the server's proof; undefined when the server is accepted. */
  verify(bytes: Uint8Array): ActorError.ActorError | undefined {
    const f = decodeSingle(bytes)
    if (f !== undefined && f[0] === F.FAILED && typeof f[1] === "string") return this.refused(f[1])
    if (f === undefined || f[0] !== F.AUTH || f[1] !== 3 || !isBytes(f[2])) {
      return ActorError.make(new ActorError.ProtocolError({ node: this.node, message: "expected the AUTH proof" }))
    }
    if (this.secret === undefined) return undefined
    const expected = mac(this.secret, "troupe/1 server", this.nonce, this.serverNonce!)
    return sameBytes(f[2], expected) ? undefined : this.refused("the server could not prove it knows the secret")
  }
}

/** A session id: 128 random bits, the client's handle on its actors across reconnects. */
export const newSession = (): string => randomBytes(16).toString("base64url")

/** The bytes of a FAILED frame. */
export const failedFrame = (message: string): Uint8Array => cbor.encode([[F.FAILED, message]])
