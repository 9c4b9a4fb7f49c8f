import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { OnoffGpio, OnoffModule } from "../../../src/adapters/gpio/onoff.js";

/** A chip of a fake sysfs tree: its class device `gpiochip<base>` and, when `dev` is given, `/dev/gpiochip<dev>`. */
export interface FakeChip {
  base: number;
  label: string;
  ngpio: number;
  /** The character device's number (`bus/gpio/devices/gpiochipN`). */
  dev?: number;
  /** The platform device the chip belongs to, e.g. `fe200000.gpio`. */
  parent?: string;
}

/**
 * A fake `/sys` as the kernel lays it out for sysfs GPIO (Documentation/ABI/obsolete/sysfs-gpio):
 * `class/gpio/{export,unexport}`, `class/gpio/gpiochip<base>` linked to
 * `devices/platform/<parent>/gpio/gpiochip<base>` with `label`, `base`, `ngpio`, and
 * `bus/gpio/devices/gpiochip<N>` linked to `devices/platform/<parent>/gpiochip<N>`.
 */
export function fakeSysfs(chips: FakeChip[], opts: { sysfsGpio?: boolean } = {}): string {
  const root = mkdtempSync(join(tmpdir(), "smartbin-sysfs-"));
  const classDir = join(root, "class", "gpio");
  mkdirSync(classDir, { recursive: true });
  mkdirSync(join(root, "bus", "gpio", "devices"), { recursive: true });
  if (opts.sysfsGpio !== false) {
    writeFileSync(join(classDir, "export"), "");
    writeFileSync(join(classDir, "unexport"), "");
  }
  for (const [i, chip] of chips.entries()) {
    const parent = join(root, "devices", "platform", chip.parent ?? `chip${i}.gpio`);
    const classDev = join(parent, "gpio", `gpiochip${chip.base}`);
    mkdirSync(classDev, { recursive: true });
    writeFileSync(join(classDev, "label"), `${chip.label}\n`);
    writeFileSync(join(classDev, "base"), `${chip.base}\n`);
    writeFileSync(join(classDev, "ngpio"), `${chip.ngpio}\n`);
    symlinkSync(relative(classDir, classDev), join(classDir, `gpiochip${chip.base}`));
    if (chip.dev !== undefined) {
      const busDev = join(parent, `gpiochip${chip.dev}`);
      mkdirSync(busDev, { recursive: true });
      symlinkSync(relative(join(root, "bus", "gpio", "devices"), busDev), join(root, "bus", "gpio", "devices", `gpiochip${chip.dev}`));
    }
  }
  return root;
}

/** The chips of a Raspberry Pi 4 on a kernel before 6.6: the header chip at base 0. */
export const PI4_OLD: FakeChip[] = [
  { base: 0, label: "pinctrl-bcm2711", ngpio: 58, dev: 0, parent: "fe200000.gpio" },
  { base: 504, label: "raspberrypi-exp-gpio", ngpio: 8, dev: 1, parent: "firmware:gpio" },
];
/** A Raspberry Pi 4 on 6.6 and newer: dynamic bases from 512. */
export const PI4_66: FakeChip[] = [
  { base: 512, label: "pinctrl-bcm2711", ngpio: 58, dev: 0, parent: "fe200000.gpio" },
  { base: 570, label: "raspberrypi-exp-gpio", ngpio: 8, dev: 1, parent: "firmware:gpio" },
];
/** A Raspberry Pi 5 on 6.6: the BCM2712's own chips first, then the RP1 header chip at 571. */
export const PI5_66: FakeChip[] = [
  { base: 512, label: "gpio-brcmstb@107d508500", ngpio: 32, dev: 0, parent: "107d508500.gpio" },
  { base: 544, label: "gpio-brcmstb@107d508520", ngpio: 4, dev: 1, parent: "107d508520.gpio" },
  { base: 548, label: "gpio-brcmstb@107d517c00", ngpio: 17, dev: 2, parent: "107d517c00.gpio" },
  { base: 565, label: "gpio-brcmstb@107d517c20", ngpio: 6, dev: 3, parent: "107d517c20.gpio" },
  { base: 571, label: "pinctrl-rp1", ngpio: 54, dev: 4, parent: "1f000d0000.gpio" },
];

/**
 * A fake onoff module acting on a fake sysfs tree as onoff 6 does on `/sys/class/gpio` (onoff.js):
 * the constructor exports the line unless `gpio<N>` exists (export of a `busy` number fails with
 * EBUSY, as the kernel answers for a line another driver requested), writes direction and
 * active_low, and reads `value`; `watch` keeps the callback so the test can play edges.
 */
export class FakeOnoff {
  readonly busy = new Set<number>();
  readonly exported: number[] = [];
  readonly unexported: number[] = [];
  readonly constructed: Array<{ gpio: number; direction: string; edge: string | undefined; activeLow: boolean | undefined }> = [];
  readonly watchers = new Map<number, (err: Error | null | undefined, value: 0 | 1) => void>();
  failReads = new Set<number>();
  failWrites = new Set<number>();

  constructor(private readonly root: string) {}

  dir(gpio: number): string {
    return join(this.root, "class", "gpio", `gpio${gpio}`);
  }

  /** Sets a pin's physical level as the hardware would. */
  setPin(gpio: number, high: boolean): void {
    writeFileSync(join(this.dir(gpio), "value"), high ? "1\n" : "0\n");
  }

  pin(gpio: number): string {
    return readFileSync(join(this.dir(gpio), "value"), "utf8").trim();
  }

  /** Plays an edge on a watched input: sets the pin, then runs onoff's epoll handler. */
  edge(gpio: number, high: boolean): void {
    this.setPin(gpio, high);
    const gpioObj = this.objects.get(gpio)!;
    const value = gpioObj.readSync(); // onoff's handler reads the value itself (and may throw)
    this.watchers.get(gpio)?.(null, value);
  }

  readonly objects = new Map<number, OnoffGpio>();

  get module(): OnoffModule {
    return fakeOnoffModule(this);
  }
}

/** onoff's `Gpio` class over a {@link FakeOnoff}. */
function fakeOnoffModule(fake: FakeOnoff): OnoffModule {
  {
    class Gpio implements OnoffGpio {
      constructor(
        private readonly gpio: number,
        direction: "in" | "out" | "high" | "low",
        edge?: "none" | "rising" | "falling" | "both",
        options?: { activeLow?: boolean },
      ) {
        fake.constructed.push({ gpio, direction, edge, activeLow: options?.activeLow });
        const dir = fake.dir(gpio);
        if (!existsSync(dir)) {
          if (fake.busy.has(gpio)) throw Object.assign(new Error("EBUSY: resource busy or locked, write"), { code: "EBUSY", errno: -16, syscall: "write" });
          mkdirSync(dir);
          writeFileSync(join(dir, "value"), "0\n");
          fake.exported.push(gpio);
        }
        writeFileSync(join(dir, "direction"), direction);
        writeFileSync(join(dir, "active_low"), options?.activeLow ? "1" : "0");
        if (direction === "high") fake.setPin(gpio, true);
        if (direction === "low") fake.setPin(gpio, false);
        fake.objects.set(gpio, this);
      }
      readSync(): 0 | 1 {
        if (fake.failReads.has(this.gpio)) throw Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" });
        return fake.pin(this.gpio) === "1" ? 1 : 0;
      }
      writeSync(value: 0 | 1): void {
        if (fake.failWrites.has(this.gpio)) throw Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
        fake.setPin(this.gpio, value === 1);
      }
      watch(callback: (err: Error | null | undefined, value: 0 | 1) => void): void {
        fake.watchers.set(this.gpio, callback);
      }
      unexport(): void {
        fake.watchers.delete(this.gpio);
        rmSync(fake.dir(this.gpio), { recursive: true, force: true });
        fake.unexported.push(this.gpio);
      }
    }
    return { Gpio };
  }
}
