// @ts-check
import tseslint from "typescript-eslint";

/** Modules only `src/adapters`, `src/app` and `src/cli` may touch (architecture.md, "Layers"). */
const ioModules = [
  "node:*",
  "fs",
  "fs/*",
  "net",
  "child_process",
  "os",
  "path",
  "serialport",
  "@serialport/*",
  "mqtt",
  "better-sqlite3",
  "onoff",
  "pino",
  "aedes",
];

export default tseslint.config(
  { ignores: ["dist/", "coverage/", "node_modules/", ".bench/", "bin/", "scripts/**/*.mjs", "eslint.config.js"] },
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
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ioModules, message: "protocol/ and domain/ are pure: no I/O modules (architecture.md)." },
            {
              group: ["**/adapters/**", "**/app/**", "**/cli/**"],
              message: "Dependencies point inwards only (architecture.md).",
            },
            {
              group: ["**/config/**"],
              allowTypeImports: true,
              message: "domain/ and protocol/ may use config types, never config code.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["src/protocol/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ioModules, message: "protocol/ is pure: no I/O modules (architecture.md)." },
            { group: ["**/domain/**", "**/adapters/**", "**/app/**", "**/cli/**", "**/config/**"], message: "protocol/ is the innermost layer." },
          ],
        },
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
