import { describe, expect, it } from "vitest";
import { configFileArgument } from "../../src/cli/config-commands.js";
import { main } from "../../src/cli/main.js";

const noSignals = { claim: () => undefined };

describe("the config file as -c FILE or as a positional FILE (issue 10)", () => {
  it("either form names the file; both the same is fine; two different ones are refused", () => {
    expect(configFileArgument("a.yaml", undefined)).toEqual({ file: "a.yaml" });
    expect(configFileArgument(undefined, "a.yaml")).toEqual({ file: "a.yaml" });
    expect(configFileArgument("a.yaml", "a.yaml")).toEqual({ file: "a.yaml" });
    expect(configFileArgument(undefined, undefined)).toEqual({});
    expect(configFileArgument("a.yaml", "b.yaml").error).toBe('two config files given: "a.yaml" and -c "b.yaml"; give one');
  });

  it("config check FILE checks FILE (it used to say 'too many arguments'); a conflict is a usage error", async () => {
    const missing = "/nonexistent/smartbin-test.yaml";
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (written.push(chunk), true));
    try {
      expect(await main(["config", "check", missing], noSignals)).toBe(78);
    } finally {
      process.stdout.write = write;
    }
    expect(written.join("")).toBe(`${missing}:1:1: (file): cannot read: no such file or directory (ENOENT)\n`);
    const errWrite = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true);
    try {
      expect(await main(["config", "check", "a.yaml", "-c", "b.yaml"], noSignals)).toBe(2);
      expect(await main(["outbox", "status", "a.yaml", "-c", "b.yaml"], noSignals)).toBe(2);
      expect(await main(["doctor", "a.yaml", "extra.yaml"], noSignals)).toBe(2);
    } finally {
      process.stderr.write = errWrite;
    }
  });
});
