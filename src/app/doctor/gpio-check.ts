/**
 * The doctor's GPIO check, kept small and apart so it grows with the GPIO adapter (being written on
 * another branch). For now: which backend the config asks for, when its `gpio.backend` key exists
 * (contract.md section 2, "GPIO and doors"; `none` when absent), and whether the machine offers
 * what that backend needs: GPIO character devices (`/dev/gpiochipN`, the kernel's GPIO uAPI,
 * Documentation/userspace-api/gpio/chardev.rst) this user may open read-write for `gpiod`, the
 * sysfs interface (`/sys/class/gpio`, deprecated since Linux 4.8) for `onoff`.
 */
import type { CheckResult, DoctorProbes } from "./types.js";

/** The `gpio.backend` of a config that has one (the key comes with the GPIO issue), else `none`. */
export function gpioBackend(config: unknown): string {
  const gpio = (config as { gpio?: { backend?: unknown } } | null)?.gpio;
  return typeof gpio?.backend === "string" ? gpio.backend : "none";
}

/** One result: `ok` when the backend has what it needs (or none is used), else `fail` with what to do. */
export function checkGpio(config: unknown, probes: DoctorProbes): CheckResult {
  const backend = gpioBackend(config);
  const chips = probes.gpioChips();
  const usable = chips.filter((c) => c.denied === null);
  const sysfs = !("error" in probes.stat("/sys/class/gpio"));
  const details = { backend, chips: chips.map((c) => c.path), usable_chips: usable.map((c) => c.path), sysfs };
  const found = chips.length === 0 ? "no /dev/gpiochip*" : `${chips.map((c) => c.path).join(", ")} (${usable.length} usable)`;
  switch (backend) {
    case "none":
    case "simulated":
      return { name: "gpio", level: "ok", message: `backend ${backend}: no GPIO hardware used (${found}${sysfs ? ", /sys/class/gpio" : ""})`, details };
    case "gpiod":
      if (usable.length > 0) return { name: "gpio", level: "ok", message: `backend gpiod: ${found}`, details };
      if (chips.length === 0) return { name: "gpio", level: "fail", message: "backend gpiod: no /dev/gpiochip* on this machine: is this the gateway, with GPIO enabled?", details };
      return { name: "gpio", level: "fail", message: `backend gpiod: ${found}: add the station's user to the group owning them (gpio), see docs/install.md`, details };
    case "onoff":
      if (sysfs) return { name: "gpio", level: "ok", message: "backend onoff: /sys/class/gpio present", details };
      return { name: "gpio", level: "fail", message: "backend onoff: no /sys/class/gpio (the kernel has no sysfs GPIO): use backend gpiod", details };
    default:
      return { name: "gpio", level: "warn", message: `backend ${backend}: not known to this doctor (${found})`, details };
  }
}
