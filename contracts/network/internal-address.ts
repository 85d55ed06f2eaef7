/**
 * Which addresses count as "inside" (the pod's own loopback, the cluster, the node's link-local metadata service,
 * the tenant's Redis): a webhook may reach them only through an explicit per-tenant allow-list. One judgement for
 * every place that asks: the server at connect time (after DNS, on every attempt), the rule API at creation time,
 * and `neurallog validate` for `network.webhookEgress`.
 */
import ipaddr from "ipaddr.js";

/** ipaddr.js range names we refuse, and the words a 4xx or a validate message uses for them. */
const INTERNAL_RANGES: Readonly<Record<string, string>> = {
  unspecified: "an unspecified address",
  loopback: "a loopback address",
  linkLocal: "a link-local address (cloud metadata services live there)",
  private: "a private address (RFC 1918)",
  uniqueLocal: "a unique local address (fc00::/7)",
  deprecatedSiteLocal: "a site-local address (fec0::/10)",
  multicast: "a multicast address",
  broadcast: "the broadcast address",
  carrierGradeNat: "a carrier-grade NAT address (100.64.0.0/10, cloud metadata on some providers)",
  reserved: "a reserved address",
};

export type IpAddress = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * The IPv4 address an IPv6 form carries, for the forms that reach an IPv4 host: mapped (`::ffff:a.b.c.d`),
 * compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
 */
function embeddedIpv4(address: ipaddr.IPv6): ipaddr.IPv4 | undefined {
  const b = address.toByteArray();
  if (address.isIPv4MappedAddress()) return address.toIPv4Address();
  const range = address.range();
  if (range === "rfc6052") return new ipaddr.IPv4(b.slice(12, 16));
  if (range === "6to4") return new ipaddr.IPv4(b.slice(2, 6));
  // ::/96 less :: and ::1 (unspecified and loopback are judged as IPv6 below).
  if (b.slice(0, 12).every((x) => x === 0) && (b[12]! | b[13]! | b[14]!) !== 0) {
    return new ipaddr.IPv4(b.slice(12, 16));
  }
  return undefined;
}

/** Parses an address literal (`[` `]` allowed around IPv6), or undefined when it is not one. */
export function parseAddress(text: string): IpAddress | undefined {
  const bare = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!ipaddr.isValid(bare)) return undefined;
  // ipaddr.js also accepts forms such as "0x7f000001" and "127.1"; WHATWG URLs normalise those the same way.
  return ipaddr.parse(bare);
}

/** Why `address` is inside (a phrase to put after "is"), or undefined when it is a public unicast address. */
export function internalReason(address: IpAddress): string | undefined {
  const own = INTERNAL_RANGES[address.range()];
  if (own) return own;
  if (address.kind() === "ipv6") {
    const v4 = embeddedIpv4(address as ipaddr.IPv6);
    const inner = v4 && INTERNAL_RANGES[v4.range()];
    if (inner) return `${inner} in IPv6 form (${v4!.toString()})`;
  }
  return undefined;
}

export interface AllowedCidr {
  readonly address: IpAddress;
  readonly prefix: number;
  readonly text: string;
}

/** Parses an allow-list entry (`10.0.0.0/8`, `fd00::/8`, or a bare address for one host). */
export function parseAllowedCidr(text: string): AllowedCidr | undefined {
  try {
    if (text.includes("/")) {
      const [address, prefix] = ipaddr.parseCIDR(text);
      return { address, prefix, text };
    }
    const address = parseAddress(text);
    return address && { address, prefix: address.kind() === "ipv4" ? 32 : 128, text };
  } catch {
    return undefined;
  }
}

function allowed(address: IpAddress, allowList: readonly AllowedCidr[]): boolean {
  // An IPv4-mapped form is matched against IPv4 entries too, so allowing 10.0.0.5/32 allows ::ffff:10.0.0.5.
  const forms: IpAddress[] = [address];
  if (address.kind() === "ipv6") {
    const v4 = embeddedIpv4(address as ipaddr.IPv6);
    if (v4) forms.push(v4);
  }
  return allowList.some((c) =>
    forms.some((f) => f.kind() === c.address.kind() && f.match(c.address, c.prefix)),
  );
}

/**
 * Cloud metadata services (AWS and GCP on 169.254.169.254, AWS over IPv6, Alibaba): they hand out node credentials,
 * so no allow-list opens them.
 */
export const METADATA_ADDRESSES: readonly string[] = ["169.254.169.254", "fd00:ec2::254", "100.100.100.200"];

const metadata = METADATA_ADDRESSES.map((a) => parseAddress(a)!);

function isMetadata(address: IpAddress): boolean {
  const v4 = address.kind() === "ipv6" ? embeddedIpv4(address as ipaddr.IPv6) : undefined;
  return metadata.some((m) =>
    [address, v4].some((f) => f?.kind() === m.kind() && f.toString() === m.toString()),
  );
}

/** Why a connection to `address` is refused, or undefined when it may go ahead. */
export function refusedReason(address: IpAddress, allowList: readonly AllowedCidr[]): string | undefined {
  if (isMetadata(address)) return "a cloud metadata address (never allowed)";
  const reason = internalReason(address);
  if (!reason || allowed(address, allowList)) return undefined;
  return reason;
}

/** The ranges the guard refuses by default, for validate's webhookEgress warning. */
export const INTERNAL_CIDRS: readonly string[] = [
  "127.0.0.0/8",
  "10.0.0.0/8",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "100.64.0.0/10",
  "169.254.0.0/16",
  "fc00::/7",
  "fe80::/10",
  "::1/128",
];

type Range = Pick<AllowedCidr, "address" | "prefix">;

function overlaps(a: Range, b: Range): boolean {
  if (a.address.kind() !== b.address.kind()) return false;
  return a.address.match(b.address, Math.min(a.prefix, b.prefix));
}

/** The default-refused ranges `range` overlaps (either contains the other). */
export function overlappedInternalCidrs(range: Range): string[] {
  return INTERNAL_CIDRS.filter((text) => overlaps(range, parseAllowedCidr(text)!));
}

/** The metadata addresses inside `range`. */
export function containedMetadataAddresses(range: Range): string[] {
  return METADATA_ADDRESSES.filter((text) => overlaps(range, parseAllowedCidr(text)!));
}
