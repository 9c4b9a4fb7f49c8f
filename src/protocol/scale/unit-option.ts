/**
 * The `unit` option of the scale protocols that use a configured unit (contract.md section 2:
 * `unit: kg # g | kg | lb; used only by protocols whose frames carry no unit`). Each such protocol
 * declares it in its own options with its own wording; a protocol whose frames always carry their
 * unit does not, so `unit` on it is a config error naming the protocols it belongs to.
 */
import { z } from "zod";
import { WEIGHT_UNITS } from "../types.js";

/**
 * The zod schema of `unit`: one of {@link WEIGHT_UNITS}, default `kg` (contract.md section 2).
 *
 * @param description what the unit is used for by this protocol
 */
export function weightUnitOption(description: string) {
  return z.enum(WEIGHT_UNITS).default("kg").describe(description);
}
