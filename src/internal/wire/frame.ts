/**
 * Wire frames: what two Troupe nodes say to each other. A frame is a CBOR array whose first element is
 * its type; frames of one tick travel together as one CBOR array (a batch). Values inside frames are
 * the Schema-encoded forms of payloads, replies and errors; no code ever travels.
 */

import * as Trace from "../trace.ts"

/** Magic string of the handshake: a peer that does not say it is not a Troupe node. */
export const MAGIC = "troupe"
/**
 * Wire protocol version; a peer with another version is refused with VersionMismatch. 2 added INSPECT:
 * a version-1 node would close the link on it, so the two must not meet. 3 added the peer's frame limit
 * to HELLO, which a sender now keeps its batches under. 4 added CALL's chain, which a version-3 node
 * would take for a malformed CALL, and CAST_ACK, without which a version-3 caster's casts would stall.
 * 5 added the sender's span to CALL, CAST and STREAM, which a version-4 node would take for malformed.
 * 6 added SPAWN's idle timeout, which a version-5 node would refuse as a malformed SPAWN.
 */
export const VERSION = 6

/** Whether a number of ms is an idle timeout a sweep can keep: 1 ms to 4 × a Node timer's longest (~99 days). */
export const isIdleMillis = (millis: number): boolean => millis >= 1 && millis <= 4 * (2 ** 31 - 1)

/**
 * [HELLO, magic, version, nodeId, kinds, maxFrame?] — first frame in each direction. maxFrame: the largest
 * batch the sender accepts (at least 1024 bytes), absent when its transport has no limit (a worker's port).
 */
export const HELLO = 0
/** [FAILED, message] — the sender is closing the link because of a fatal error. */
export const FAILED = 1
/**
 * [CALL, reqId, actorId, incarnation, method, payload, chain?, span?] — chain: when a handler makes the
 * call, tokens naming the handler runs that wait for it (at most MAX_CHAIN), so that a call closing a
 * cycle back to one of them is refused with Deadlock instead of queueing behind it (null when there is a
 * span but no chain). span: [traceId, spanId, sampled] of the caller's span, when it called from one; the
 * handler runs in a child span.
 */
export const CALL = 2
/**
 * [CAST, actorId, incarnation, method, payload, src?, span?] — src: the caster's node, when the cast is
 * relayed (VIA), so that its acknowledgement can be routed back (null when there is a span but the cast
 * is not relayed); span: as CALL's. Every CAST is acknowledged (CAST_ACK).
 */
export const CAST = 3
/**
 * [REPLY, reqId, outcome, value] — answers CALL, SPAWN, LOOKUP and STOP. SPAWN and LOOKUP succeed with
 * the actor's incarnation: refs name an incarnation, so a ref to a stopped actor never reaches a new
 * actor spawned later under the same id.
 */
export const REPLY = 4
/** [STREAM, reqId, actorId, incarnation, method, payload, credit, span?] — a call whose reply is a stream. */
export const STREAM = 5
/** [CHUNK, reqId, elements] */
export const CHUNK = 6
/** [END, reqId, outcome, value] — the stream ended (OK, value null) or failed. */
export const END = 7
/** [DEMAND, reqId, n] — the caller can take n more stream elements. */
export const DEMAND = 8
/** [INTERRUPT, reqId] — the caller gave up: stop the handler or the stream. */
export const INTERRUPT = 9
/** [SPAWN, reqId, protocol, actorId, capacity | null, overflow | null, getOrSpawn, supervision | null, idle ms | null] */
export const SPAWN = 10
/** [LOOKUP, reqId, protocol, actorId] */
export const LOOKUP = 11
/** [STOP, reqId, actorId, incarnation, kill] */
export const STOP = 12
/** [BYE, reason] — the sender closes the link normally (a backend shutting down, a client leaving). */
export const BYE = 13
/**
 * [AUTH, step, ...] — TCP authentication, before HELLO and before anything else is accepted:
 * 1 (server) [AUTH, 1, serverNonce, required]; 2 (client) [AUTH, 2, clientNonce, mac, session];
 * 3 (server) [AUTH, 3, serverMac]. Macs are HMAC-SHA256 of both nonces under the shared secret.
 */
export const AUTH = 14

// Routed frames: [type, dst node, src node, ...], forwarded hop by hop towards dst.
/** [CH_OPEN, dst, src, openId, inboxId, channel] — a sender node opens a session with an inbox. */
export const CH_OPEN = 15
/** [CH_OPENED, dst, src, openId, ok, credit | ActorError] */
export const CH_OPENED = 16
/** [CH_MSG, dst, src, inboxId, message] — one channel message, sent with one unit of credit. */
export const CH_MSG = 17
/** [CH_ACK, dst, src, inboxId, n] — the receiver took n messages: n more credit. */
export const CH_ACK = 18
/** [CH_CLOSED, dst, src, inboxId] — the inbox closed (or is unknown): the session ends. */
export const CH_CLOSED = 19

// Topic frames, between neighbours.
/** [T_SUB, topic] — the sender wants publications of this topic. */
export const T_SUB = 20
/** [T_UNSUB, topic] */
export const T_UNSUB = 21
/** [T_PUB, topic, message] — one publication, sent with one unit of credit. */
export const T_PUB = 22
/** [T_ACK, topic, n] — n publications handled: n more credit. */
export const T_ACK = 23
/** [WATCH, reqId, actorId, incarnation] — answered by a REPLY carrying the Termination, when it ends. */
export const WATCH = 24
/** [PING] — a heartbeat, sent when the link has been quiet. */
export const PING = 25
/** [PONG] — the answer to PING. */
export const PONG = 26
/**
 * [VIA, dst node, request] — a CALL, CAST, STREAM, STOP or WATCH for an actor on a node that is not
 * this link's peer (a ref that travelled inside a message). Each node on the way forwards the request
 * under an id of its own and relays the answers back; the last hop sends the request bare.
 */
export const VIA = 27

/**
 * [INSPECT, reqId, hops, budget] — the inspector asks for the reports of the peer and of the nodes behind
 * it, up to `hops` links further, waiting at most `budget` ms for them; answered by a REPLY carrying an
 * array of node reports (or, for a node that did not answer, its id and why). Only a peer that started
 * this node, or a client for its own session, may ask.
 */
export const INSPECT = 28
/**
 * [CAST_ACK, actorId, n] — n of the peer's casts to this actor have entered its mailbox (or were
 * refused): n more credit. [CAST_ACK, dst, src, actorId, n] — the same for casts relayed from node dst
 * to an actor on node src, routed hop by hop to dst. A caster has at most CAST_WINDOW casts to one
 * actor unacknowledged, so a flood of casts waits for a full mailbox ("suspend") as a local one does.
 */
export const CAST_ACK = 29
/** Casts to one actor that a caster may have unacknowledged. */
export const CAST_WINDOW = 1024

/** The most links an INSPECT may be passed on beyond its peer. */
export const MAX_INSPECT_HOPS = 8
/** The longest an INSPECT may ask a node to wait for the nodes behind it (ms). */
export const MAX_INSPECT_BUDGET = 60_000

/** The requests a VIA frame may carry. */
export const relayable: ReadonlySet<number> = new Set([CALL, CAST, STREAM, STOP, WATCH])

/** Outcome tags of REPLY and END. */
export const OK = 0
/** The value is the method's declared error, encoded with its error Schema. */
export const FAILURE = 1
/** The value is an ActorError, encoded with ActorError's Schema. */
export const ACTOR_ERROR = 2

/** The most tokens a CALL's chain may carry, and the longest token. */
export const MAX_CHAIN = 32
export const MAX_TOKEN = 32

/** Largest request id before wrapping; ids stay small CBOR integers. */
export const MAX_REQUEST_ID = 0x7fffffff

/** Names of frame types, for error messages. */
export const names: ReadonlyArray<string> = [
  "HELLO",
  "FAILED",
  "CALL",
  "CAST",
  "REPLY",
  "STREAM",
  "CHUNK",
  "END",
  "DEMAND",
  "INTERRUPT",
  "SPAWN",
  "LOOKUP",
  "STOP",
  "BYE",
  "AUTH",
  "CH_OPEN",
  "CH_OPENED",
  "CH_MSG",
  "CH_ACK",
  "CH_CLOSED",
  "T_SUB",
  "T_UNSUB",
  "T_PUB",
  "T_ACK",
  "WATCH",
  "PING",
  "PONG",
  "VIA",
  "INSPECT",
  "CAST_ACK"
]

const isId = (u: unknown): u is number => typeof u === "number" && Number.isInteger(u) && u >= 0 && u <= MAX_REQUEST_ID
const isString = (u: unknown): u is string => typeof u === "string"
const isChain = (u: unknown): boolean =>
  Array.isArray(u) &&
  u.length > 0 &&
  u.length <= MAX_CHAIN &&
  u.every((t) => typeof t === "string" && t.length <= MAX_TOKEN)
const isSpan = Trace.isEncoded

const isOutcome = (u: unknown): boolean => u === OK || u === FAILURE || u === ACTOR_ERROR

/**
 * Checks the envelope of one frame (types and arity; not the payload, which its Schema checks later).
 * Returns an error message, or undefined when the frame is well formed.
 */
export const check = (frame: unknown): string | undefined => {
  if (!Array.isArray(frame) || frame.length === 0) return "a frame must be a non-empty array"
  const f = frame as ReadonlyArray<unknown>
  switch (f[0]) {
    case HELLO:
      return (f.length === 5 || (f.length === 6 && Number.isSafeInteger(f[5]) && (f[5] as number) >= 1024)) &&
        isString(f[1]) &&
        typeof f[2] === "number" &&
        isString(f[3]) &&
        Array.isArray(f[4])
        ? undefined
        : "malformed HELLO"
    case FAILED:
      return f.length === 2 && isString(f[1]) ? undefined : "malformed FAILED"
    case CALL:
      return (f.length === 6 ||
        (f.length === 7 && isChain(f[6])) ||
        (f.length === 8 && (f[6] === null || isChain(f[6])) && isSpan(f[7]))) &&
        isId(f[1]) &&
        isString(f[2]) &&
        isId(f[3]) &&
        isString(f[4])
        ? undefined
        : "malformed CALL"
    case CAST:
      return (f.length === 5 ||
        (f.length === 6 && isString(f[5])) ||
        (f.length === 7 && (f[5] === null || isString(f[5])) && isSpan(f[6]))) &&
        isString(f[1]) &&
        isId(f[2]) &&
        isString(f[3])
        ? undefined
        : "malformed CAST"
    case CAST_ACK:
      return (f.length === 3 && isString(f[1]) && isId(f[2]) && f[2] > 0) ||
        (f.length === 5 && isString(f[1]) && isString(f[2]) && isString(f[3]) && isId(f[4]) && f[4] > 0)
        ? undefined
        : "malformed CAST_ACK"
    case REPLY:
    case END:
      return f.length === 4 && isId(f[1]) && isOutcome(f[2]) ? undefined : `malformed ${names[f[0] as number]}`
    case STREAM:
      return (f.length === 7 || (f.length === 8 && isSpan(f[7]))) &&
        isId(f[1]) &&
        isString(f[2]) &&
        isId(f[3]) &&
        isString(f[4]) &&
        isId(f[6])
        ? undefined
        : "malformed STREAM"
    case CHUNK:
      return f.length === 3 && isId(f[1]) && Array.isArray(f[2]) ? undefined : "malformed CHUNK"
    case DEMAND:
      return f.length === 3 && isId(f[1]) && isId(f[2]) ? undefined : "malformed DEMAND"
    case INTERRUPT:
      return f.length === 2 && isId(f[1]) ? undefined : "malformed INTERRUPT"
    case SPAWN:
      return f.length === 9 &&
        isId(f[1]) &&
        isString(f[2]) &&
        isString(f[3]) &&
        (f[4] === null || (isId(f[4]) && (f[4] as number) > 0)) &&
        (f[5] === null || f[5] === "suspend" || f[5] === "fail") &&
        typeof f[6] === "boolean" &&
        (f[8] === null || (typeof f[8] === "number" && isIdleMillis(f[8])))
        ? undefined
        : "malformed SPAWN"
    case LOOKUP:
      return f.length === 4 && isId(f[1]) && isString(f[2]) && isString(f[3]) ? undefined : "malformed LOOKUP"
    case STOP:
      return f.length === 5 && isId(f[1]) && isString(f[2]) && isId(f[3]) && typeof f[4] === "boolean"
        ? undefined
        : "malformed STOP"
    case BYE:
      return f.length === 2 && isString(f[1]) ? undefined : "malformed BYE"
    case CH_OPEN:
      return f.length === 6 && isString(f[1]) && isString(f[2]) && isId(f[3]) && isString(f[4]) && isString(f[5])
        ? undefined
        : "malformed CH_OPEN"
    case CH_OPENED:
      return f.length === 6 && isString(f[1]) && isString(f[2]) && isId(f[3]) && typeof f[4] === "boolean"
        ? undefined
        : "malformed CH_OPENED"
    case CH_MSG:
      return f.length === 5 && isString(f[1]) && isString(f[2]) && isString(f[3]) ? undefined : "malformed CH_MSG"
    case CH_ACK:
      return f.length === 5 && isString(f[1]) && isString(f[2]) && isString(f[3]) && isId(f[4]) && f[4] > 0
        ? undefined
        : "malformed CH_ACK"
    case CH_CLOSED:
      return f.length === 4 && isString(f[1]) && isString(f[2]) && isString(f[3]) ? undefined : "malformed CH_CLOSED"
    case T_SUB:
    case T_UNSUB:
      return f.length === 2 && isString(f[1]) ? undefined : `malformed ${names[f[0] as number]}`
    case T_PUB:
      return f.length === 3 && isString(f[1]) ? undefined : "malformed T_PUB"
    case T_ACK:
      return f.length === 3 && isString(f[1]) && isId(f[2]) && f[2] > 0 ? undefined : "malformed T_ACK"
    case WATCH:
      return f.length === 4 && isId(f[1]) && isString(f[2]) && isId(f[3]) ? undefined : "malformed WATCH"
    case PING:
    case PONG:
      return f.length === 1 ? undefined : `malformed ${names[f[0] as number]}`
    case INSPECT:
      return f.length === 4 &&
        isId(f[1]) &&
        isId(f[2]) &&
        (f[2] as number) <= MAX_INSPECT_HOPS &&
        isId(f[3]) &&
        (f[3] as number) <= MAX_INSPECT_BUDGET
        ? undefined
        : "malformed INSPECT"
    case VIA: {
      if (f.length !== 3 || !isString(f[1]) || !Array.isArray(f[2]) || !relayable.has(f[2][0])) return "malformed VIA"
      const inner = check(f[2])
      return inner === undefined ? undefined : `VIA carrying a ${inner}`
    }
    default:
      return `unknown frame type ${typeof f[0] === "number" ? f[0] : typeof f[0]}`
  }
}
