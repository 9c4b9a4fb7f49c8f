import { describe, expect, it } from "vitest";
import { RequestMatcher } from "../../../src/app/simulate/requests.js";

const bytes = (...xs: number[]) => Uint8Array.from(xs);
const request = bytes(0x01, 0x03, 0x00, 0x00, 0x00, 0x02, 0xc4, 0x0b);

describe("RequestMatcher", () => {
  it("counts whole requests however the stream is cut, ignoring other bytes", () => {
    const stream = Uint8Array.from([0xff, ...request, 0x01, 0x03, ...request, ...request, 0x00]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const m = new RequestMatcher(request);
      expect(m.push(stream.subarray(0, cut)) + m.push(stream.subarray(cut)), `cut at ${cut}`).toBe(3);
    }
    const m = new RequestMatcher(request);
    let count = 0;
    for (const b of stream) count += m.push(bytes(b));
    expect(count).toBe(3);
  });

  it("finds an MT-SICS SI line, and nothing in an empty or foreign stream", () => {
    const si = bytes(0x53, 0x49, 0x0d, 0x0a);
    const m = new RequestMatcher(si);
    expect(m.push(bytes(0x53, 0x49, 0x0d))).toBe(0);
    expect(m.push(bytes(0x0a, 0x5a, 0x0d, 0x0a))).toBe(1); // then a Z command: not the poll
    expect(m.push(new Uint8Array(0))).toBe(0);
    expect(new RequestMatcher(new Uint8Array(0)).push(si)).toBe(0);
  });
});
