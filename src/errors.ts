/**
 * The one error class of smartbin-edge, with a closed set of codes. Tests assert on `code`, never on
 * the message text. `context` carries data (ids, paths), `cause` the underlying error.
 */
export type SmartbinErrorCode =
  | "CONFIG_INVALID"
  | "SERIAL_OPEN_FAILED"
  | "SERIAL_DISCONNECTED"
  | "OUTBOX_OPEN_FAILED"
  /** Another process holds the station lock of the outbox database (a second `smartbin run`). */
  | "OUTBOX_LOCKED"
  | "OUTBOX_COMMIT_FAILED"
  | "MQTT_PUBLISH_FAILED"
  /** The chosen GPIO backend cannot work here (module or tools missing, no sysfs GPIO, no such chip). */
  | "GPIO_BACKEND_UNAVAILABLE"
  /** GPIO lines could not be claimed; `context.failures` lists each line with its error. */
  | "GPIO_OPEN_FAILED"
  /** A claimed GPIO line failed while running (write refused, monitor process died, EIO). */
  | "GPIO_LINE_FAILED"
  | "USAGE";

export class SmartbinError extends Error {
  override readonly name = "SmartbinError";
  constructor(
    readonly code: SmartbinErrorCode,
    message: string,
    readonly context: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
