/**
 * The CPU-bound job of bench/pool.bench.ts, run by every system there (Troupe host, raw worker, piscina's
 * worker, the main thread): SHA-256 applied `rounds` times to 32 bytes, about 0.22 µs a round here. Plain
 * JavaScript that allocates nothing: node:crypto's `createHash` allocates per round, and V8's GC helper
 * threads then kept a second CPU busy, so "one worker" ran on 1.3–1.5 CPUs and two could not be twice as fast.
 */
import { createHash } from "node:crypto"

const K = Int32Array.from(
  [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2
  ],
  (k) => k | 0
)
const H0 = Int32Array.from(
  [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19],
  (h) => h | 0
)
const w = new Int32Array(64)
const state = new Int32Array(8)

const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n))

/** state ← SHA-256(state), the 8 words read and written big-endian: one 64-byte block, padding included. */
const round = (): void => {
  for (let i = 0; i < 8; i++) w[i] = state[i]!
  w[8] = 0x80000000 | 0
  for (let i = 9; i < 15; i++) w[i] = 0
  w[15] = 256 // the message's length in bits
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!
    const b = w[i - 2]!
    w[i] =
      (w[i - 16]! + (rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3)) + w[i - 7]! + (rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10))) | 0
  }
  let a = H0[0]!
  let b = H0[1]!
  let c = H0[2]!
  let d = H0[3]!
  let e = H0[4]!
  let f = H0[5]!
  let g = H0[6]!
  let h = H0[7]!
  for (let i = 0; i < 64; i++) {
    const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  state[0] = (H0[0]! + a) | 0
  state[1] = (H0[1]! + b) | 0
  state[2] = (H0[2]! + c) | 0
  state[3] = (H0[3]! + d) | 0
  state[4] = (H0[4]! + e) | 0
  state[5] = (H0[5]! + f) | 0
  state[6] = (H0[6]! + g) | 0
  state[7] = (H0[7]! + h) | 0
}

/**
 * The job: SHA-256 applied `rounds` times to the 32 bytes of `key` and seven zero words; the first 32
 * bits of the result. A number rather than the digest, so that every system's reply is as cheap to
 * carry and the figures differ only by how the job got to a thread and back.
 */
export const stretch = (key: number, rounds: number): number => {
  state.fill(0)
  state[0] = key | 0
  for (let i = 0; i < rounds; i++) round()
  return state[0]! >>> 0
}

/** Checks the job against node:crypto, so that it surely is SHA-256; throws if not. */
export const checkAgainstNodeCrypto = (key: number, rounds: number): void => {
  let digest = Buffer.alloc(32)
  digest.writeInt32BE(key | 0, 0)
  for (let i = 0; i < rounds; i++) digest = createHash("sha256").update(digest).digest()
  const expected = digest.readUInt32BE(0)
  const actual = stretch(key, rounds)
  if (actual !== expected) throw new Error(`stretch(${key}, ${rounds}) = ${actual}, node:crypto says ${expected}`)
}
