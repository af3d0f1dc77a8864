// The package's entry for `import { ... } from "@kiln/pdk"`: asc resolves a package to its
// index.ts. The kit itself is assembly/index.ts.
export * from "./assembly/index";
export * from "./assembly/dispatch";
export * from "./assembly/host";
export * from "./assembly/actor";
