import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ipv6Bytes, proxyHeaderV1, proxyHeaderV2, unmapIPv4, V2_SIGNATURE } from "./proxy-protocol.ts";

const v4 = {
  source: { address: "192.0.2.10", port: 51234 },
  destination: { address: "10.96.0.2", port: 443 },
};
const v6 = {
  source: { address: "2001:db8::1", port: 40000 },
  destination: { address: "fd00:96::2", port: 443 },
};
const hex = (b: Buffer) => b.toString("hex");

describe("PROXY protocol version 1 (HAProxy spec, section 2.1)", () => {
  it("TCP4: one line, single spaces, CRLF", () => {
    assert.equal(proxyHeaderV1(v4).toString("latin1"), "PROXY TCP4 192.0.2.10 10.96.0.2 51234 443\r\n");
  });
  it("TCP6", () => {
    assert.equal(proxyHeaderV1(v6).toString("latin1"), "PROXY TCP6 2001:db8::1 fd00:96::2 40000 443\r\n");
  });
  it("an IPv4 client on a dual-stack socket (::ffff:a.b.c.d) is TCP4", () => {
    const mapped = {
      source: { address: "::ffff:192.0.2.10", port: 51234 },
      destination: { address: "::ffff:10.96.0.2", port: 443 },
    };
    assert.equal(proxyHeaderV1(mapped).toString("latin1"), "PROXY TCP4 192.0.2.10 10.96.0.2 51234 443\r\n");
    assert.equal(unmapIPv4("::FFFF:1.2.3.4"), "1.2.3.4");
    assert.equal(unmapIPv4("::1"), "::1");
  });
  it("mixed or unknown families: PROXY UNKNOWN", () => {
    const mixed = { source: v4.source, destination: v6.destination };
    assert.equal(proxyHeaderV1(mixed).toString("latin1"), "PROXY UNKNOWN\r\n");
    assert.equal(proxyHeaderV1(undefined).toString("latin1"), "PROXY UNKNOWN\r\n");
  });
  it("the longest possible line stays within the spec's 107 bytes", () => {
    const max = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const h = proxyHeaderV1({
      source: { address: max, port: 65535 },
      destination: { address: max, port: 65535 },
    });
    assert.equal(h.length, 104);
    assert.ok(h.length <= 107);
  });
});

describe("PROXY protocol version 2 (HAProxy spec, section 2.2)", () => {
  it("the 12-byte signature", () => {
    assert.equal(hex(V2_SIGNATURE), "0d0a0d0a000d0a515549540a");
  });
  it("TCP over IPv4: ver/cmd 0x21, family 0x11, length 12, addresses then ports in network order", () => {
    assert.equal(
      hex(proxyHeaderV2(v4)),
      // signature | 21 11 000c | c000020a (192.0.2.10) | 0a600002 (10.96.0.2) | c822 (51234) | 01bb (443)
      "0d0a0d0a000d0a515549540a" + "2111000c" + "c000020a" + "0a600002" + "c822" + "01bb",
    );
    assert.equal(proxyHeaderV2(v4).length, 16 + 12);
  });
  it("TCP over IPv6: family 0x21, length 36", () => {
    assert.equal(
      hex(proxyHeaderV2(v6)),
      "0d0a0d0a000d0a515549540a" +
        "21210024" +
        "20010db8000000000000000000000001" +
        "fd000096000000000000000000000002" +
        "9c40" +
        "01bb",
    );
    assert.equal(proxyHeaderV2(v6).length, 16 + 36);
  });
  it("unknown families: AF_UNSPEC with no address block", () => {
    const mixed = { source: v4.source, destination: v6.destination };
    assert.equal(hex(proxyHeaderV2(mixed)), "0d0a0d0a000d0a515549540a21000000");
  });
  it("IPv6 text forms all give the same 16 bytes", () => {
    assert.equal(hex(ipv6Bytes("::")), "0".repeat(32));
    assert.equal(hex(ipv6Bytes("::1")), `${"0".repeat(31)}1`);
    assert.equal(hex(ipv6Bytes("fe80::1%eth0")), "fe800000000000000000000000000001");
    assert.equal(hex(ipv6Bytes("::ffff:192.0.2.1")), "00000000000000000000ffffc0000201");
    assert.equal(hex(ipv6Bytes("2001:db8:0:0:1:0:0:1")), "20010db8000000000001000000000001");
    assert.equal(hex(ipv6Bytes("2001:db8::")), "20010db8000000000000000000000000");
  });
});
