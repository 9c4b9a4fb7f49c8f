/**
 * The role lists in force (contract section 2 "Roles"): a `set_cards` command, or the config's lists
 * when they changed, replace each given list; lists not given stay.
 */
import type { CardListsState, StationEffect, StationState } from "./station-types.js";

/** New lists: each given one replaces the current one; `version` is the command's (`null`: the config's). */
export interface CardLists {
  readonly collectors?: readonly string[];
  readonly maintenance?: readonly string[];
  readonly blocked?: readonly string[];
  readonly version: string | null;
}

/**
 * The state with the lists replaced, the lists in force (to be stored under meta `cards`, so they
 * survive a restart), and the log line that says so.
 */
export function replaceCards(state: StationState, input: CardLists): { state: StationState; cards: CardListsState; notice: StationEffect } {
  const old = state.cards ?? { collectors: [], maintenance: [], blocked: [], version: null };
  const cards: CardListsState = {
    collectors: input.collectors ?? old.collectors,
    maintenance: input.maintenance ?? old.maintenance,
    blocked: input.blocked ?? old.blocked,
    version: input.version,
  };
  const notice: StationEffect = {
    type: "notice",
    level: "info",
    msg: "card lists replaced",
    fields: { version: input.version, collectors: cards.collectors.length, maintenance: cards.maintenance.length, blocked: cards.blocked.length },
  };
  return { state: { ...state, cards }, cards, notice };
}
