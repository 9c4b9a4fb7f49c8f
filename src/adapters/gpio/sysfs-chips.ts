import { existsSync, readFileSync, readdirSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { SmartbinError } from "../../errors.js";
import { parseChipChoice, pickChipByLabel, type FoundChip } from "./header-chip.js";

/** A sysfs GPIO chip: `/sys/class/gpio/gpiochip<base>/{label,base,ngpio}`. */
export interface SysfsChip extends FoundChip {
  /** The global sysfs number of the chip's line 0: `export` takes `base + offset`. */
  base: number;
}

/**
 * Every chip under `<sysfsRoot>/class/gpio/`, sorted by base. Source: the kernel's sysfs GPIO ABI
 * (Documentation/ABI/obsolete/sysfs-gpio, and Documentation/admin-guide/gpio/sysfs.rst): each
 * `gpiochipN` class device has `base` ("same as N, the first GPIO managed by this chip"), `label`
 * and `ngpio` ("how many GPIOs this manages"). The base is allocated by the kernel: 0 for the Pi's
 * header chip on older kernels; since Linux 6.6 dynamic bases start at 512 (GPIO_DYNAMIC_BASE), so
 * a Pi 4's `pinctrl-bcm2711` is at 512, and a Pi 5's `pinctrl-rp1` at 571 (after the BCM2712's own
 * chips, 512 + 32 + 4 + 17 + 6). Never assume a base: read it.
 *
 * Throws `GPIO_BACKEND_UNAVAILABLE` when the kernel has no sysfs GPIO interface
 * (`class/gpio/export` missing: CONFIG_GPIO_SYSFS off).
 */
export function listSysfsChips(sysfsRoot: string): SysfsChip[] {
  const classDir = join(sysfsRoot, "class", "gpio");
  if (!existsSync(join(classDir, "export"))) {
    throw new SmartbinError(
      "GPIO_BACKEND_UNAVAILABLE",
      `gpio.backend onoff: ${join(classDir, "export")} does not exist: this kernel has no sysfs GPIO interface (CONFIG_GPIO_SYSFS); use gpio.backend gpiod`,
      { path: classDir },
    );
  }
  const chips: SysfsChip[] = [];
  for (const entry of readdirSync(classDir)) {
    if (!/^gpiochip\d+$/.test(entry)) continue;
    const dir = join(classDir, entry);
    const read = (name: string): string => readFileSync(join(dir, name), "utf8").trim();
    try {
      chips.push({ id: entry, label: read("label"), base: Number(read("base")), ngpio: Number(read("ngpio")) });
    } catch {
      // a chip whose attributes cannot be read is not one we can use; it is listed by no one
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

/**
 * The sysfs chip for `gpio.chip` (`auto`, a label, or `/dev/gpiochipN`). For a `/dev/gpiochipN`
 * the character device's sysfs node `<sysfsRoot>/bus/gpio/devices/gpiochipN` is followed to its
 * device, whose `gpio/` folder (or its parent's, as the kernel parents the sysfs class device to the
 * chip's parent device when it has one: drivers/gpio/gpiolib-sysfs.c, gpiochip_sysfs_register)
 * holds the `gpiochip<base>` class device.
 *
 * Throws `GPIO_BACKEND_UNAVAILABLE` with what was found when nothing matches.
 */
export function findSysfsChip(sysfsRoot: string, chip: string): SysfsChip {
  const chips = listSysfsChips(sysfsRoot);
  const choice = parseChipChoice(chip);
  if (choice.kind === "dev") {
    const id = sysfsIdOfCharDev(sysfsRoot, choice.index);
    const found = chips.find((c) => c.id === id);
    if (found) return found;
    throw new SmartbinError("GPIO_BACKEND_UNAVAILABLE", `gpio.chip ${chip}: no sysfs GPIO chip belongs to that device; use the chip's label`, { chip });
  }
  const picked = pickChipByLabel(chips, choice);
  if ("problem" in picked) throw new SmartbinError("GPIO_BACKEND_UNAVAILABLE", picked.problem, { chip });
  return chips.find((c) => c.id === picked.id)!;
}

function sysfsIdOfCharDev(sysfsRoot: string, index: number): string | undefined {
  let device: string;
  try {
    device = realpathSync(join(sysfsRoot, "bus", "gpio", "devices", `gpiochip${index}`));
  } catch {
    return undefined;
  }
  for (const dir of [join(device, "gpio"), join(dirname(device), "gpio")]) {
    let entries: string[];
    try {
      entries = readdirSync(dir).filter((e) => /^gpiochip\d+$/.test(e));
    } catch {
      continue;
    }
    if (entries.length === 1) return entries[0];
  }
  return undefined;
}
