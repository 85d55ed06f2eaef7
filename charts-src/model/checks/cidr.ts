/** CIDR parsing for NetworkPolicy ipBlocks and ingress allow-lists (ipaddr.js). */
import ipaddr from "ipaddr.js";

export interface ParsedCidr {
  readonly address: ipaddr.IPv4 | ipaddr.IPv6;
  readonly prefix: number;
}

/**
 * Parses `a.b.c.d/n` or `v6::/n`. A CIDR with host bits set (`10.0.0.1/8`) is an error, not a warning: the
 * API server would accept it, but it almost always means a wrong prefix length in a security boundary, so we
 * ask for the network address instead (returned as `network` to suggest).
 */
export function parseCidr(text: string): { cidr: ParsedCidr } | { problem: string } {
  if (!text.includes("/")) {
    const hint = ipaddr.isValid(text)
      ? `: add the prefix length, e.g. ${text}/${ipaddr.parse(text).kind() === "ipv4" ? 32 : 128}`
      : "";
    return { problem: `"${text}" is not a CIDR${hint}` };
  }
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(text);
  } catch {
    return { problem: `"${text}" is not a valid IPv4 or IPv6 CIDR` };
  }
  const [address, prefix] = parsed;
  const network = networkAddress(address, prefix);
  if (network.toString() !== address.toString()) {
    return {
      problem: `"${text}" has host bits set after the /${prefix} prefix (did you mean "${network.toString()}/${prefix}"?)`,
    };
  }
  return { cidr: { address, prefix } };
}

function networkAddress(address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): ipaddr.IPv4 | ipaddr.IPv6 {
  const bytes = address.toByteArray();
  const masked = bytes.map((byte, i) => {
    const bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
    return byte & ((0xff << (8 - bitsHere)) & 0xff);
  });
  return ipaddr.fromByteArray(masked);
}

/** True when `inner` lies within `outer` (same family). */
export function cidrContains(outer: ParsedCidr, inner: ParsedCidr): boolean {
  if (outer.address.kind() !== inner.address.kind() || inner.prefix < outer.prefix) return false;
  return inner.address.match(outer.address, outer.prefix);
}

export function isEverywhere(cidr: ParsedCidr): boolean {
  return cidr.prefix === 0;
}
