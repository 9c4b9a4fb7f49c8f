/**
 * The `never` check that closes every `switch` over a discriminated union: adding a variant makes
 * the call site fail to compile. Reaching it at run time means a value broke its declared type.
 */
export function unreachable(value: never): never {
  throw new TypeError(`unreachable: unexpected value ${JSON.stringify(value)}`);
}
