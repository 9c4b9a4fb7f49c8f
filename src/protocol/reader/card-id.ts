/**
 * Card id forms shared by the reader protocols, so that one card read by two reader types gives one
 * `card_id` (issue 9, item 3.1). Source of how the forms relate: shared/protocols/readers.md, "How
 * the same tag is written on cards and in back offices" (EM4100) and "wiegand" (the 26-bit frame
 * carries the tag's third data byte as facility and its last two bytes as card number).
 *
 * Every form is a function of the **card number bytes** a reader delivers, most significant first:
 * - an EM4100 tag (em4100-ascii): the four bytes after the version byte (`0086F444` of tag
 *   `100086F444`); `hex10` alone also uses the version byte;
 * - a Wiegand-34 frame: its 32 data bits (4 bytes); a Wiegand-26 frame: its 24 data bits (3 bytes);
 *   a Wiegand reader in front of an EM4100 tag sends the tag's last 4 (W34) or last 3 (W26) bytes;
 * - an ISO 14443 UID (iso14443-text): its 4, 7 or 10 bytes in the configured order.
 *
 * The forms:
 * - `dec10`: the last four bytes as a 10-digit zero-padded decimal (`0008844356`; "8H10D"). Needs
 *   at least 4 bytes: a Wiegand-26 frame has none.
 * - `wiegand26`: "facility,card" unpadded: the third-from-last byte, a comma, the last two bytes,
 *   in decimal (`134,62532`, `93,7589`). The form of installed em4100-ascii stations.
 * - `w26`: the same numbers zero-padded to 3+5 digits as printed on cards (`093,07589`).
 * - `hex`: every card number byte in upper-case hex, 2 characters a byte (`0086F444` from an
 *   EM4100 tag or a W34 frame, `86F444` from a W26 frame, `04A22B1C` from a 4-byte UID).
 *
 * `wiegand26`/`w26` drop every byte before the last three, so two cards can share them
 * (readers.md); `dec10` of an EM4100 tag equals `dec10` of the same tag through a Wiegand-34 reader,
 * `w26` of an EM4100 tag equals `w26` of the same tag through a Wiegand-26 or Wiegand-34 reader.
 */

/** The forms every reader protocol can offer (each protocol lists those it supports). */
export type CardForm = "dec10" | "wiegand26" | "w26" | "hex";

/** Upper-case hex, 2 characters per byte. */
export function hexOf(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX[b >> 4]! + HEX[b & 0xf]!;
  return out;
}
const HEX = "0123456789ABCDEF";

/**
 * Writes card number bytes (most significant first) in `form`.
 *
 * @returns the card id, or `{problem}` when the bytes are too few for the form (`dec10` needs 4,
 *   `wiegand26`/`w26` need 3); never throws
 */
export function formatCardNumber(bytes: Uint8Array, form: CardForm): string | { problem: string } {
  const n = bytes.length;
  const at = (i: number): number => bytes[n - i] ?? 0;
  switch (form) {
    case "dec10": {
      if (n < 4) return { problem: `${n * 8} bits have no dec10 form (it needs 32)` };
      const value = at(4) * 0x1000000 + at(3) * 0x10000 + at(2) * 0x100 + at(1);
      return value.toString().padStart(10, "0");
    }
    case "wiegand26":
    case "w26": {
      if (n < 3) return { problem: `${n * 8} bits have no ${form} form (it needs 24)` };
      const facility = at(3).toString();
      const card = (at(2) * 0x100 + at(1)).toString();
      return form === "w26" ? `${facility.padStart(3, "0")},${card.padStart(5, "0")}` : `${facility},${card}`;
    }
    case "hex":
      return hexOf(bytes);
  }
}
