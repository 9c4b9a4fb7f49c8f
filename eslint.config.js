// @ts-check
import { builtinModules } from "node:module";
import tseslint from "typescript-eslint";

/**
 * The layer rule (architecture.md, "Layers and the rule between them"): `protocol/` and `domain/`
 * are pure. No I/O, no timers, no clock, no randomness: time and ids come in as inputs, so the
 * machine is a function a transition table can test. Every message below cites that section.
 */
const LAYERS = "architecture.md, \"Layers and the rule between them\"";

/**
 * Modules only `src/adapters`, `src/app` and `src/cli` may touch: every Node built-in (by its exact
 * name: as a pattern, the built-in `domain` would match `../domain/…`), and the I/O packages.
 */
const ioPackages = ["serialport", "mqtt", "better-sqlite3", "onoff", "pino", "aedes", "uuid", "commander"];
const ioModules = {
  names: [...builtinModules, ...ioPackages],
  patterns: ["node:*", "@serialport/*", ...ioPackages.map((name) => `${name}/*`)],
};

/**
 * The `no-restricted-imports` options of a pure layer: the I/O modules, then `inward`, its own layer patterns.
 * @param {string} layer the message's subject, "protocol/ is"
 * @param {Array<{group: string[], message: string, allowTypeImports?: boolean}>} inward
 */
function pureImports(layer, inward) {
  const message = `${layer} pure: no I/O, clock or random modules (${LAYERS}).`;
  return [
    "error",
    {
      paths: ioModules.names.map((name) => ({ name, message })),
      patterns: [{ group: ioModules.patterns, message }, ...inward],
    },
  ];
}

/** What a pure layer may not reach through the global object (`setTimeout`, `Date`, …); see {@link LAYERS}. */
const impureGlobals = [
  ...["setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "clearImmediate", "queueMicrotask"].map(
    (name) => ({ name, message: `protocol/ and domain/ have no timers: a timeout is an input (tick) of the machine (${LAYERS}).` }),
  ),
  { name: "Date", message: `protocol/ and domain/ read no clock: times are passed in as inputs (${LAYERS}).` },
  { name: "performance", message: `protocol/ and domain/ read no clock: times are passed in as inputs (${LAYERS}).` },
  { name: "crypto", message: `protocol/ and domain/ make no random ids: ids are passed in (${LAYERS}).` },
  { name: "process", message: `protocol/ and domain/ do not touch the process (env, exit, stdout): the app layer does (${LAYERS}).` },
  { name: "console", message: `protocol/ and domain/ do no I/O: report notices as effects for the runner to log (${LAYERS}).` },
  { name: "fetch", message: `protocol/ and domain/ do no I/O (${LAYERS}).` },
  { name: "Buffer", message: `protocol/ and domain/ are Node-free: use Uint8Array (${LAYERS}).` },
  { name: "require", message: `protocol/ and domain/ load no modules at run time (${LAYERS}).` },
  ...["globalThis", "global", "self"].map((name) => ({
    name,
    message: `protocol/ and domain/ may not reach around the layer rule through the global object (${LAYERS}).`,
  })),
];

export default tseslint.config(
  { ignores: ["dist/", "coverage/", "node_modules/", ".bench/", "bin/", "scripts/**/*.mjs", "examples/**/*.mjs", "test/**/fixtures/**/*.mjs", "eslint.config.js"] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false },
      ],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // The layer rule: protocol and domain are pure and import nothing that does I/O,
    // nor anything from the outer layers.
    files: ["src/protocol/**/*.ts", "src/domain/**/*.ts"],
    rules: {
      "no-restricted-imports": pureImports("protocol/ and domain/ are", [
        { group: ["**/adapters/**", "**/app/**", "**/cli/**"], message: `Dependencies point inwards only (${LAYERS}).` },
        {
          group: ["**/config/**"],
          allowTypeImports: true,
          message: `domain/ and protocol/ may use config types, never config code (${LAYERS}).`,
        },
      ]),
      "no-restricted-globals": ["error", ...impureGlobals],
      "no-restricted-properties": [
        "error",
        { object: "Math", property: "random", message: `protocol/ and domain/ are deterministic: no Math.random (${LAYERS}).` },
        { object: "AbortSignal", property: "timeout", message: `protocol/ and domain/ have no timers (${LAYERS}).` },
      ],
      "no-restricted-syntax": [
        "error",
        {
          // no-restricted-imports does not see `import()`, so a dynamic import could load anything.
          selector: "ImportExpression",
          message: `protocol/ and domain/ load no modules at run time (${LAYERS}).`,
        },
      ],
    },
  },
  {
    files: ["src/protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": pureImports("protocol/ is", [
        {
          group: ["**/domain/**", "**/adapters/**", "**/app/**", "**/cli/**", "**/config/**"],
          message: `protocol/ is the innermost layer (${LAYERS}).`,
        },
      ]),
    },
  },
  {
    // Adapters are used by app/ and cli/, never the other way round.
    files: ["src/adapters/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/app/**", "**/cli/**"],
              message: `adapters/ may not import app/ or cli/: dependencies point inwards only (${LAYERS}).`,
            },
          ],
          paths: [{ name: "commander", message: `CLI commands live in src/cli/ (${LAYERS}).` }],
        },
      ],
    },
  },
  {
    // Commands (and their argument parser) live in cli/ only.
    files: ["src/app/**/*.ts", "src/config/**/*.ts", "src/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { paths: [{ name: "commander", message: `CLI commands live in src/cli/ (${LAYERS}).` }] },
      ],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/unbound-method": "off",
    },
  },
);
