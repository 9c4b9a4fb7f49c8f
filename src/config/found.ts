/**
 * How a value found in the config file is written in problem messages ("expected …, found X").
 */

/** Renders a found string for a message: JSON-quoted, long values shortened. */
export function quoteFound(value: string): string {
  const short = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(short);
}

/** Renders any decoded YAML value for a message: strings quoted, collections by kind. */
export function describeFound(value: unknown): string {
  switch (typeof value) {
    case "string":
      return quoteFound(value);
    case "number":
    case "boolean":
    case "bigint":
    case "undefined":
      return String(value);
    case "object":
      return value === null ? "null" : Array.isArray(value) ? "a list" : "a mapping";
    case "function":
    case "symbol":
      return typeof value;
  }
}
