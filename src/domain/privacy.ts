/**
 * Card ids are personal data: logs at info level carry only a masked form that keeps the last four
 * characters, enough for a technician to match a resident's complaint, not to identify anyone.
 * `maskCardId("0008844356")` is `"******4356"`; ids of four characters or fewer are fully masked.
 */
export function maskCardId(cardId: string): string {
  if (cardId.length <= 4) return "*".repeat(cardId.length);
  return "*".repeat(cardId.length - 4) + cardId.slice(-4);
}
