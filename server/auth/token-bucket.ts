/**
 * The one token bucket every rate limit of the server uses: per API key (`rateLimit` of the key), per client
 * address for failed authentication, and the calls of an MCP batch. A bucket holds at most `burst` tokens and
 * refills at `perSecond`; a request of cost n takes n tokens or none.
 */

export interface RateLimit {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Most tokens held (and the largest cost one request can ever pay). */
  readonly burst: number;
}

export class TokenBucket {
  #tokens: number;
  #updatedMs: number;
  readonly #limit: RateLimit;
  readonly #now: () => number;

  constructor(limit: RateLimit, now: () => number) {
    this.#limit = limit;
    this.#now = now;
    this.#tokens = limit.burst;
    this.#updatedMs = now();
  }

  /** Tokens available now (refilled up to the burst). */
  available(): number {
    const t = this.#now();
    this.#tokens = Math.min(
      this.#limit.burst,
      this.#tokens + ((t - this.#updatedMs) / 1000) * this.#limit.perSecond,
    );
    this.#updatedMs = t;
    return this.#tokens;
  }

  /**
   * Takes `cost` tokens and returns 0, or takes nothing and returns the whole seconds until `cost` tokens will be
   * there (at least 1; Infinity when `cost` exceeds the burst, which no wait can satisfy).
   */
  take(cost = 1): number {
    const tokens = this.available();
    if (tokens >= cost) {
      this.#tokens = tokens - cost;
      return 0;
    }
    if (cost > this.#limit.burst) return Infinity;
    return Math.max(1, Math.ceil((cost - tokens) / this.#limit.perSecond));
  }
}
