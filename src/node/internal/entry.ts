/**
 * Where the compiled entry points of worker threads and child processes live. Troupe always starts
 * workers and children from its own compiled JS, so users never point Node at TypeScript inside
 * node_modules; when Troupe itself runs from its TypeScript sources (its tests), the built copy in
 * dist/ is used.
 */
import { pathToFileURL } from "node:url"
import { resolve } from "node:path"

/** The URL of a compiled entry point ("worker" or "child"). */
export const entryUrl = (name: "worker" | "child"): URL => {
  const here = import.meta.url
  return here.endsWith(".ts")
    ? new URL(`../../../dist/node/internal/${name}-entry.js`, here)
    : new URL(`./${name}-entry.js`, here)
}

/** A host module given as a URL, a file URL string, or a path (relative to the working directory). */
export const hostHref = (host: URL | string): string =>
  host instanceof URL ? host.href : /^[a-z][a-z0-9+.-]*:/i.test(host) ? host : pathToFileURL(resolve(host)).href
