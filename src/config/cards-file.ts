/**
 * The role lists' file (`cards.file`, contract section 2 "GPIO and doors"): a YAML file with the same
 * three lists as the `cards` section (`collectors`, `maintenance`, `blocked`), merged with the inline
 * ones. Read at config load, so a missing or malformed file, or a card in two lists across the file
 * and the config, stops start-up with the problem (exit 78) instead of running without the lists.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { z } from "zod";
import { CARD_ROLES, cardListIssues, type CardLists } from "./gpio-schema.js";
import { readFailure } from "./read-failure.js";

const fileSchema = z.strictObject({
  collectors: z.array(z.string().min(1)).default([]),
  maintenance: z.array(z.string().min(1)).default([]),
  blocked: z.array(z.string().min(1)).default([]),
});

/** The merged lists, or the problems (messages say what was expected and what was found). */
export type CardsFileResult = { ok: true; lists: CardLists } | { ok: false; messages: string[] };

/**
 * Reads `file` (an absolute path) and merges its lists after the inline ones (`inline`), keeping
 * the first of duplicates within a list. Never throws.
 */
export function readCardsFile(file: string, inline: CardLists): CardsFileResult {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    return { ok: false, messages: [`expected a readable YAML file of card lists, found ${JSON.stringify(file)}: ${readFailure(err)}`] };
  }
  let data: unknown;
  try {
    data = parse(text) ?? {};
  } catch (err) {
    return { ok: false, messages: [`${JSON.stringify(file)} is not valid YAML: ${(err as Error).message.split("\n")[0]}`] };
  }
  const parsed = fileSchema.safeParse(data);
  if (!parsed.success) {
    return {
      ok: false,
      messages: parsed.error.issues.map((i) => `${JSON.stringify(file)}: ${i.path.join(".") || "(file)"}: ${i.message}`),
    };
  }
  const lists: CardLists = {
    collectors: [...new Set([...inline.collectors, ...parsed.data.collectors])],
    maintenance: [...new Set([...inline.maintenance, ...parsed.data.maintenance])],
    blocked: [...new Set([...inline.blocked, ...parsed.data.blocked])],
  };
  const twice = cardListIssues(lists as unknown as Record<string, unknown>, []);
  if (twice.length > 0) {
    return { ok: false, messages: twice.map((i) => `with ${JSON.stringify(file)} merged: ${CARD_ROLES.find((r) => r === i.path[0]) ?? ""} ${i.message}`) };
  }
  return { ok: true, lists };
}
