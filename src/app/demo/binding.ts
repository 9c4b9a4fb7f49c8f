import { SerialPortMock } from "serialport";
import type { MockBindingInterface, MockPortBinding } from "@serialport/binding-mock" with { "resolution-mode": "require" };
import type { OpenOptions } from "@serialport/bindings-interface" with { "resolution-mode": "require" };

const MockBinding = SerialPortMock.binding;

/**
 * serialport's mock binding, wrapped so that the demo's simulated devices can reach the port the
 * station opened and push bytes into it (`emit`). Ports must be created with `createPort` first.
 */
export interface DemoBinding {
  binding: MockBindingInterface;
  createPort(path: string): void;
  /** Pushes bytes into the station's open port at `path`; false when the station has not opened it. */
  emit(path: string, bytes: Uint8Array): boolean;
}

export function createDemoBinding(): DemoBinding {
  const open = new Map<string, MockPortBinding>();
  const binding: MockBindingInterface = {
    reset: () => MockBinding.reset(),
    createPort: (path, opt) => MockBinding.createPort(path, opt),
    list: () => MockBinding.list(),
    open: async (options: OpenOptions) => {
      const port = await MockBinding.open(options);
      open.set(options.path, port);
      return port;
    },
  };
  return {
    binding,
    createPort: (path) => MockBinding.createPort(path, { echo: false, record: false }),
    emit: (path, bytes) => {
      const port = open.get(path);
      if (!port?.isOpen) return false;
      port.emitData(Buffer.from(bytes));
      return true;
    },
  };
}
