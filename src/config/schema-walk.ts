/**
 * Reading the config schema's structure: which schema sits at a path, its documentation, its
 * default. Used to word problems (load.ts) and to render the example file (example.ts), so both
 * follow the schema instead of keeping their own copies of keys and defaults.
 */
import { z } from "zod";

/** What `.describe()` and `.meta()` attached to a schema or to any of its wrappers. */
export interface SchemaDoc {
  description?: string;
  examples?: unknown[];
}

/** A schema with its wrappers (default, optional, pipe…) peeled off, and what they said. */
export interface Unwrapped {
  /** The innermost schema: an object, array, record, enum, number, string, union… */
  core: z.ZodType;
  /** `.default()`/`.prefault()` value, if a wrapper has one. */
  hasDefault: boolean;
  defaultValue: unknown;
  /** True when the key may be absent without a default (`.optional()`). */
  optional: boolean;
  /** Documentation merged over the wrappers, the outermost winning. */
  doc: SchemaDoc;
}

/** Peels `.default()`, `.prefault()`, `.optional()`, `.nullable()`, `.readonly()` and pipes (input side). */
export function unwrap(schema: z.ZodType): Unwrapped {
  let current: z.ZodType = schema;
  let hasDefault = false;
  let defaultValue: unknown;
  let optional = false;
  const doc: SchemaDoc = {};
  for (;;) {
    const meta = z.globalRegistry.get(current);
    if (meta?.description !== undefined) doc.description ??= meta.description;
    if (Array.isArray(meta?.examples)) doc.examples ??= meta.examples as unknown[];
    if (current instanceof z.ZodDefault || current instanceof z.ZodPrefault) {
      if (!hasDefault) {
        hasDefault = true;
        defaultValue = current.def.defaultValue;
      }
      current = current.def.innerType as z.ZodType;
    } else if (current instanceof z.ZodOptional) {
      optional = true;
      current = current.def.innerType as z.ZodType;
    } else if (current instanceof z.ZodNullable || current instanceof z.ZodReadonly) {
      current = current.def.innerType as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.def.in as z.ZodType;
    } else {
      return { core: current, hasDefault, defaultValue, optional: optional && !hasDefault, doc };
    }
  }
}

/** The schema of one key (object), element (array, any index) or value (record) of `schema`. */
export function childSchema(schema: z.ZodType, key: string | number): z.ZodType | undefined {
  const { core } = unwrap(schema);
  if (core instanceof z.ZodObject) {
    const shape = core.shape as Record<string, z.ZodType>;
    return typeof key === "string" && Object.hasOwn(shape, key) ? shape[key] : undefined;
  }
  if (core instanceof z.ZodArray) return core.element as z.ZodType;
  if (core instanceof z.ZodRecord) return core.valueType as z.ZodType;
  return undefined;
}

/** The schema at a dotted path's segments, or undefined where the path leaves the schema. */
export function schemaAt(root: z.ZodType, path: readonly (string | number)[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = root;
  for (const key of path) {
    if (!current) return undefined;
    current = childSchema(current, key);
  }
  return current;
}

/** The keys an object schema allows, in schema order; undefined when `schema` is no object. */
export function objectKeys(schema: z.ZodType): string[] | undefined {
  const { core } = unwrap(schema);
  return core instanceof z.ZodObject ? Object.keys(core.shape) : undefined;
}

/** True when the schema accepts integers only (`z.int()`). */
export function isIntegerSchema(schema: z.ZodType): boolean {
  const { core } = unwrap(schema);
  return core instanceof z.ZodNumber && core.isInt;
}
