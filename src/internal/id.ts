/**
 * Random identifiers from the platform's CSPRNG (`crypto.getRandomValues`, in Node and browsers):
 * inbox ids are capabilities, so they must not be guessable.
 */

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"

/** An id of `chars` URL-safe characters, 6 random bits each (the default 22: 132 bits). */
export const randomId = (chars = 22): string => {
  const raw = crypto.getRandomValues(new Uint8Array(chars))
  let out = ""
  for (let i = 0; i < raw.length; i++) out += alphabet[raw[i]! & 63]
  return out
}
