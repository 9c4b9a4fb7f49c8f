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

/** One member of a discriminated union, with the discriminator value that selects it. */
export interface UnionMember {
  value: string;
  schema: z.ZodObject;
}

/**
 * The members of a union discriminated by a key (the `scales[]` and `readers[]` items, by
 * `protocol`), or undefined when `schema` is no such union.
 */
export function unionMembers(schema: z.ZodType): { discriminator: string; members: UnionMember[] } | undefined {
  const { core } = unwrap(schema);
  if (!(core instanceof z.ZodDiscriminatedUnion)) return undefined;
  const discriminator = core.def.discriminator;
  const members = (core.options as z.ZodType[]).flatMap((option): UnionMember[] => {
    const member = unwrap(option).core;
    if (!(member instanceof z.ZodObject)) return [];
    const key = unwrap((member.shape as Record<string, z.ZodType>)[discriminator] ?? member).core;
    const value = key instanceof z.ZodLiteral ? [...key.values][0] : undefined;
    return typeof value === "string" ? [{ value, schema: member }] : [];
  });
  return { discriminator, members };
}

/** zod's issue of a discriminated union whose discriminator (`protocol`) matched no member. */
export type NoMatchingMember = { code: "invalid_union"; discriminator: string; options: readonly unknown[] };

/** True for a {@link NoMatchingMember} issue (raw, as refinements see it, or final). */
export function isNoMatchingMember<I extends { readonly code?: string }>(issue: I): issue is I & NoMatchingMember {
  return (
    issue.code === "invalid_union" &&
    "discriminator" in issue &&
    typeof issue.discriminator === "string" &&
    "options" in issue &&
    Array.isArray(issue.options)
  );
}

/**
 * The member of a discriminated union that `data` (the value at the union's place) selects by its
 * discriminator; undefined when `schema` is no such union or `data` selects none.
 */
export function selectedMember(schema: z.ZodType, data: unknown): UnionMember | undefined {
  const union = unionMembers(schema);
  if (union === undefined || typeof data !== "object" || data === null) return undefined;
  const value = (data as Record<string, unknown>)[union.discriminator];
  return union.members.find((m) => m.value === value);
}

/**
 * The schema of one key (object), element (array, any index) or value (record) of `schema`. For a
 * discriminated union, the key of the member `data` (the value at `schema`'s place) selects, else
 * of the first member that has the key.
 */
export function childSchema(schema: z.ZodType, key: string | number, data?: unknown): z.ZodType | undefined {
  const union = unionMembers(schema);
  if (union !== undefined) {
    const member =
      selectedMember(schema, data) ?? union.members.find((m) => typeof key === "string" && Object.hasOwn(m.schema.shape, key));
    return member && childSchema(member.schema, key);
  }
  const { core } = unwrap(schema);
  if (core instanceof z.ZodObject) {
    const shape = core.shape as Record<string, z.ZodType>;
    return typeof key === "string" && Object.hasOwn(shape, key) ? shape[key] : undefined;
  }
  if (core instanceof z.ZodArray) return core.element as z.ZodType;
  if (core instanceof z.ZodRecord) return core.valueType as z.ZodType;
  return undefined;
}

/**
 * The schema at a dotted path's segments, or undefined where the path leaves the schema. `data`, the
 * value at `root`'s place, selects the members of discriminated unions along the path.
 */
export function schemaAt(root: z.ZodType, path: readonly (string | number)[], data?: unknown): z.ZodType | undefined {
  let current: z.ZodType | undefined = root;
  let value = data;
  for (const key of path) {
    if (!current) return undefined;
    current = childSchema(current, key, value);
    value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  }
  return current;
}

/**
 * The keys an object schema allows, in schema order; for a discriminated union, those of the member
 * `data` selects. Undefined when `schema` is no object, or a union `data` selects no member of.
 */
export function objectKeys(schema: z.ZodType, data?: unknown): string[] | undefined {
  const member = selectedMember(schema, data);
  const { core } = unwrap(member?.schema ?? schema);
  return core instanceof z.ZodObject ? Object.keys(core.shape) : undefined;
}

/** True when the schema accepts integers only (`z.int()`). */
export function isIntegerSchema(schema: z.ZodType): boolean {
  const { core } = unwrap(schema);
  return core instanceof z.ZodNumber && core.isInt;
}
