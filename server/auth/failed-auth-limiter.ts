/**
 * Failed authentication, rate-limited per client address: each address has a token bucket that a request without
 * a valid key drains; once it is empty the address is locked out (429 with Retry-After) until tokens refill.
 *
 * A locked-out address is refused whatever key it presents, valid or not: otherwise the answer (2xx against 429)
 * would still tell a guesser which key is right, and the limit would slow nothing. A key that already
 * authenticated from that address before is not penalised: it keeps working through the lockout, so an attacker
 * sharing a NAT or proxy address with a shipper cannot cut the shipper off. (An address's first successful
 * authentication during a lockout waits for the lockout to end.)
 *
 * Memory is bounded: at most `capacity` addresses are tracked, the least recently seen dropped first. IPv6
 * clients are grouped by /64, the smallest block a client is usually given, so one client cannot rotate through
 * its own addresses.
 */
import { isIPv6 } from "node:net";
import { TokenBucket, type RateLimit } from "./token-bucket.ts";

interface AddressState {
  readonly failures: TokenBucket;
  /** Names of the keys that authenticated from this address. */
  readonly keys: Set<string>;
}

/** Addresses tracked at most; each costs a bucket and a few key names. */
export const TRACKED_ADDRESSES = 10_000;

export class FailedAuthLimiter {
  readonly #addresses = new Map<string, AddressState>();
  readonly #limit: RateLimit;
  readonly #capacity: number;
  readonly #now: () => number;

  constructor(limit: RateLimit, now: () => number, capacity = TRACKED_ADDRESSES) {
    this.#limit = limit;
    this.#now = now;
    this.#capacity = capacity;
  }

  /** Seconds the address must wait before it may authenticate again; 0 when it is not locked out. */
  lockedOut(ip: string): number {
    const state = this.#addresses.get(clientAddress(ip));
    if (!state || state.failures.available() >= 1) return 0;
    return state.failures.take(1);
  }

  /** Whether the key already authenticated from this address (and so passes a lockout). */
  knows(ip: string, keyName: string): boolean {
    return this.#addresses.get(clientAddress(ip))?.keys.has(keyName) ?? false;
  }

  /** Counts a request without a valid key. */
  failed(ip: string): void {
    this.#touch(clientAddress(ip)).failures.take(1);
  }

  /** Records that the key authenticated from this address. */
  succeeded(ip: string, keyName: string): void {
    this.#touch(clientAddress(ip)).keys.add(keyName);
  }

  /** The address's state, moved to the most recent end of the table (a Map keeps insertion order). */
  #touch(address: string): AddressState {
    let state = this.#addresses.get(address);
    if (state) this.#addresses.delete(address);
    else {
      state = { failures: new TokenBucket(this.#limit, this.#now), keys: new Set() };
      if (this.#addresses.size >= this.#capacity) {
        this.#addresses.delete(this.#addresses.keys().next().value!);
      }
    }
    this.#addresses.set(address, state);
    return state;
  }
}

/** The address a client is limited by: IPv4 as is (also when IPv4-mapped), IPv6 by its /64 prefix. */
export function clientAddress(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = "", tail] = ip.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}
