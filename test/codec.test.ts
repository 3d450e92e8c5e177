/**
 * The value codec's shortcut for plain Schemas (Void, Number, String, Boolean, structs of them) must
 * give exactly what the Schema itself gives, for valid and invalid input alike; the other Schemas go
 * through Schema unchanged.
 */
import { describe, expect, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import { decodeWith, encodeWith } from "../src/internal/codec.ts"

class Point {
  x = 1
  y = "y"
}
const withInherited = Object.assign(Object.create({ x: 5 }) as object, { y: "own" })

const inputs: ReadonlyArray<unknown> = [
  undefined,
  null,
  0,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  42,
  "",
  "text",
  true,
  false,
  10n,
  [],
  [1, "y"],
  {},
  { x: 1, y: "y" },
  { x: 1, y: "y", extra: true },
  { y: "y", x: 2 },
  { x: "1", y: "y" },
  { x: 1 },
  { x: 1, y: undefined },
  new Point(),
  withInherited,
  Object.assign(Object.create(null) as object, { x: 3, y: "null prototype" }),
  { x: new Number(1), y: "boxed" },
  new Date(0)
]

const schemas: ReadonlyArray<readonly [string, Schema.Top]> = [
  ["Void", Schema.Void],
  ["Number", Schema.Number],
  ["String", Schema.String],
  ["Boolean", Schema.Boolean],
  ["Struct of primitives", Schema.Struct({ x: Schema.Number, y: Schema.String })],
  ["empty Struct", Schema.Struct({})],
  [
    "Struct with a check (not shortcut)",
    Schema.Struct({ x: Schema.Number.check(Schema.isFinite()), y: Schema.String })
  ],
  [
    "Struct with an optional key (not shortcut)",
    Schema.Struct({ x: Schema.optional(Schema.Number), y: Schema.String })
  ],
  ["Finite (not shortcut)", Schema.Finite]
]

/** What an Exit says, comparable with toEqual: the value, or the Schema issue's message. */
const outcome = (exit: Exit.Exit<unknown, Schema.SchemaError>) =>
  Exit.isSuccess(exit)
    ? { ok: exit.value }
    : { error: exit.cause.reasons.map((r) => (r._tag === "Fail" ? r.error.message : String(r))) }

describe("codec", () => {
  for (const [name, schema] of schemas) {
    it(`${name}: encode and decode agree with the Schema on every input`, () => {
      const codec = schema as Schema.Codec<unknown, unknown>
      for (const [i, input] of inputs.entries()) {
        expect(outcome(encodeWith(schema, input)), `encode input #${i}`).toEqual(
          outcome(Schema.encodeUnknownExit(codec)(input))
        )
        expect(outcome(decodeWith(schema, input)), `decode input #${i}`).toEqual(
          outcome(Schema.decodeUnknownExit(codec)(input))
        )
      }
    })
  }

  it("a struct's output is a fresh object with the declared keys in declared order", () => {
    const input = { y: "y", x: 2, extra: [1] }
    const exit = encodeWith(Schema.Struct({ x: Schema.Number, y: Schema.String }), input)
    expect(Exit.isSuccess(exit)).toBe(true)
    if (Exit.isSuccess(exit)) {
      expect(exit.value).not.toBe(input)
      expect(Object.keys(exit.value as object)).toEqual(["x", "y"])
    }
  })
})
