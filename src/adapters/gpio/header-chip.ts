/**
 * Which GPIO chip carries the Raspberry Pi's 40-pin header, by the label its kernel driver gives it.
 * The header's BCM numbers (`GPIO17`) are the line offsets on that chip.
 *
 * - `pinctrl-rp1`: Raspberry Pi 5 (the RP1 I/O controller; its chip is gpiochip4 on early Pi 5
 *   kernels and gpiochip0 on later ones, so never pick it by number).
 * - `pinctrl-bcm2711`: Raspberry Pi 4, 400, CM4.
 * - `pinctrl-bcm2835`: Raspberry Pi 1, 2, 3, Zero, Zero 2 W (BCM2835/6/7).
 *
 * Other chips on a Pi are not the header: `raspberrypi-exp-gpio` (the firmware's expander on a
 * Pi 3B+/4: LEDs, camera power), `gpio-brcmstb@…` (the BCM2712's own lines on a Pi 5). Sources:
 * Raspberry Pi's kernel drivers (drivers/pinctrl/bcm/pinctrl-bcm2835.c registers "pinctrl-bcm2835"
 * or "pinctrl-bcm2711"; drivers/pinctrl/pinctrl-rp1.c "pinctrl-rp1") and `gpiodetect` listings
 * from Pi 5 boards (raspberrypi/linux#6084, golemparts/rppal#127).
 */
export const HEADER_CHIP_LABELS = ["pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835"] as const;

/** A GPIO chip as a backend found it. */
export interface FoundChip {
  /** Where it was found: `gpiochip512` (sysfs class device) or `gpiochip0` (character device). */
  id: string;
  label: string;
  /** Number of lines. */
  ngpio: number;
}

/** `chip: auto`, a label, or a character device path (contract.md section 2, `gpio.chip`). */
export type ChipChoice = { kind: "auto" } | { kind: "label"; label: string } | { kind: "dev"; path: string; index: number };

/** Reads `gpio.chip`: `auto`, `/dev/gpiochipN`, else a label. */
export function parseChipChoice(chip: string): ChipChoice {
  if (chip === "auto") return { kind: "auto" };
  const dev = /^\/dev\/gpiochip(\d+)$/.exec(chip);
  if (dev) return { kind: "dev", path: chip, index: Number(dev[1]) };
  return { kind: "label", label: chip };
}

/**
 * The chip to use among `chips`, chosen by label (`auto`: the first Raspberry Pi header label of
 * {@link HEADER_CHIP_LABELS} found). Returns a message naming what was found when none (or several
 * with one label) match; `/dev` choices are not handled here.
 */
export function pickChipByLabel(chips: FoundChip[], choice: { kind: "auto" } | { kind: "label"; label: string }): FoundChip | { problem: string } {
  const found = chips.length === 0 ? "no GPIO chip at all" : `found ${chips.map((c) => `${c.id} [${c.label}]`).join(", ")}`;
  if (choice.kind === "auto") {
    for (const label of HEADER_CHIP_LABELS) {
      const chip = chips.find((c) => c.label === label);
      if (chip) return chip;
    }
    return {
      problem: `gpio.chip auto: no Raspberry Pi header chip (${HEADER_CHIP_LABELS.join(", ")}); ${found}: set gpio.chip to the label of the chip your lines are on`,
    };
  }
  const matches = chips.filter((c) => c.label === choice.label);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) return { problem: `gpio.chip ${choice.label}: ${matches.length} chips have that label (${matches.map((c) => c.id).join(", ")}): use /dev/gpiochipN` };
  return { problem: `gpio.chip ${choice.label}: no GPIO chip has that label; ${found}` };
}
