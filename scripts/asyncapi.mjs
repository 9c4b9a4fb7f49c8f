// Writes docs/asyncapi.yaml from the built zod schemas (npm run docs:asyncapi builds first).
// test/docs/asyncapi.test.ts fails when the committed file differs from what this writes.
import { writeFileSync } from "node:fs";
import { asyncApiYaml } from "../dist/app/mqtt-api/asyncapi.js";

const out = new URL("../docs/asyncapi.yaml", import.meta.url);
writeFileSync(out, asyncApiYaml());
console.log(`wrote ${out.pathname}`);
