import { isIP, SocketAddress } from "node:net";
import { z } from "zod";
import { CommandError, mustRun, type Runner } from "./exec.ts";

/** One address as `ip -json addr` reports it, with the address in canonical form. */
export interface Address {
  family: 4 | 6;
  local: string;
  prefixlen: number;
}

/** One network interface with what the agent needs of it. */
export interface Link {
  name: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** `linkinfo.info_kind` (dummy, bridge, veth, ...); undefined for lo and physical devices. */
  kind: string | undefined;
  addresses: Address[];
}

// Only the fields the agent reads; everything else `ip` prints is ignored.
const ipJson = z.array(
  z.object({
    ifname: z.string(),
    flags: z.array(z.string()).default([]),
    linkinfo: z.object({ info_kind: z.string().optional() }).optional(),
    addr_info: z
      .array(
        z.object({
          family: z.string().optional(),
          local: z.string().optional(),
          prefixlen: z.number().optional(),
        }),
      )
      .default([]),
  }),
);

/** The canonical text of an IP address (IPv6 compressed and lower case), for comparing addresses. */
export function canonicalIp(ip: string): string {
  const family = isIP(ip);
  if (family === 0) throw new Error(`not an IP address: ${ip}`);
  return new SocketAddress({ address: ip, family: family === 6 ? "ipv6" : "ipv4" }).address;
}

/** The prefix length of a single-host route: /32 for IPv4, /128 for IPv6. */
export const hostPrefix = (ip: string) => (isIP(ip) === 6 ? 128 : 32);

/** Parses the output of `ip -json -details addr show`. */
export function parseLinks(stdout: string): Link[] {
  const raw: unknown = JSON.parse(stdout.trim() === "" ? "[]" : stdout);
  return ipJson.parse(raw).map((l) => ({
    name: l.ifname,
    up: l.flags.includes("UP"),
    kind: l.linkinfo?.info_kind,
    addresses: l.addr_info.flatMap((a): Address[] => {
      if (a.local === undefined || a.prefixlen === undefined || isIP(a.local) === 0) return [];
      return [{ family: isIP(a.local) as 4 | 6, local: canonicalIp(a.local), prefixlen: a.prefixlen }];
    }),
  }));
}

/** Link types tried, in order, when the agent has to create its interface. */
export const CREATED_KINDS = ["dummy", "bridge"] as const;

/**
 * iproute2, driven through `ip -json` and argument arrays: the kernel's state is read as JSON, never
 * scraped from text, and every change is one `ip` invocation.
 */
export class IpRoute {
  constructor(
    private readonly run: Runner,
    private readonly ipBinary = "ip",
  ) {}

  async links(): Promise<Link[]> {
    return parseLinks(await mustRun(this.run, this.ipBinary, ["-json", "-details", "addr", "show"]));
  }

  /** `ip addr add IP/32 dev NAME` (IPv6: /128 without duplicate address detection, usable at once). */
  async addAddress(ip: string, dev: string): Promise<void> {
    await mustRun(this.run, this.ipBinary, addAddressArgs(ip, dev));
  }

  async deleteAddress(ip: string, prefixlen: number, dev: string): Promise<void> {
    await mustRun(this.run, this.ipBinary, [
      ...familyArgs(ip),
      "addr",
      "del",
      `${ip}/${prefixlen}`,
      "dev",
      dev,
    ]);
  }

  async setUp(dev: string): Promise<void> {
    await mustRun(this.run, this.ipBinary, ["link", "set", "dev", dev, "up"]);
  }

  /**
   * Creates a dummy interface. Kernels built without the dummy driver (some minimal VM kernels) refuse
   * the type; an empty bridge then serves the same purpose: a local interface that only holds addresses
   * and forwards nothing. Returns the kind created.
   */
  async createInterface(dev: string): Promise<(typeof CREATED_KINDS)[number]> {
    let first: unknown;
    for (const kind of CREATED_KINDS) {
      try {
        await mustRun(this.run, this.ipBinary, ["link", "add", "name", dev, "type", kind]);
        return kind;
      } catch (err) {
        if (!(err instanceof CommandError)) throw err;
        first ??= err;
      }
    }
    throw first;
  }

  async deleteLink(dev: string): Promise<void> {
    await mustRun(this.run, this.ipBinary, ["link", "del", "dev", dev]);
  }
}

const familyArgs = (ip: string) => (isIP(ip) === 6 ? ["-6"] : ["-4"]);

export function addAddressArgs(ip: string, dev: string): string[] {
  const v6 = isIP(ip) === 6;
  return [...familyArgs(ip), "addr", "add", `${ip}/${hostPrefix(ip)}`, "dev", dev, ...(v6 ? ["nodad"] : [])];
}

/**
 * A valid Linux interface name: 1-15 bytes, no '/', ':' or whitespace, not "." or ".." (the kernel's
 * dev_valid_name; ':' is refused too because iproute2 reads it as an address label).
 */
export function isInterfaceName(name: string): boolean {
  return (
    name.length >= 1 &&
    Buffer.byteLength(name) <= 15 &&
    name !== "." &&
    name !== ".." &&
    !/[/:\s]/.test(name) &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    !/[\u0000-\u001f\u007f]/.test(name)
  );
}
