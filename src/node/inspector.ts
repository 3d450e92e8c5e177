/**
 * `troupe/inspector`: the inspector's web page for Node (needs `@effect/platform-node`). The inspector
 * itself, and its Metrics, are in `troupe` (`Inspector`).
 */
export * as InspectorPage from "./InspectorPage.ts"
