/**
 * The live tails one server process holds, under two caps: the server's (each tail holds a Redis connection of
 * its own) and each API key's (so one key cannot take them all). `take` checks and takes in one synchronous step,
 * with no await between, so requests arriving together cannot all pass the check before any of them counts; the
 * slot it hands out is given back once, however many of a tail's ending paths call `release`.
 */

export type TailLimitScope = "server" | "key";

export interface TailSlot {
  /** Gives the slot back; later calls do nothing. */
  release(): void;
}

export type TailTake =
  { readonly slot: TailSlot } | { readonly refused: TailLimitScope; readonly limit: number };

export interface TailCaps {
  readonly server: number;
  readonly perKey: number;
}

export class TailSlots {
  #open = 0;
  readonly #perKey = new Map<string, number>();
  readonly #caps: TailCaps;
  readonly #changed: (open: number) => void;

  /** `changed` hears the number of open tails after every take and release (the metrics gauge). */
  constructor(caps: TailCaps, changed: (open: number) => void = () => undefined) {
    this.#caps = caps;
    this.#changed = changed;
  }

  get open(): number {
    return this.#open;
  }

  take(key: string): TailTake {
    const ofKey = this.#perKey.get(key) ?? 0;
    if (this.#open >= this.#caps.server) return { refused: "server", limit: this.#caps.server };
    if (ofKey >= this.#caps.perKey) return { refused: "key", limit: this.#caps.perKey };
    this.#open++;
    this.#perKey.set(key, ofKey + 1);
    this.#changed(this.#open);
    let held = true;
    return {
      slot: {
        release: () => {
          if (!held) return;
          held = false;
          this.#open--;
          const left = (this.#perKey.get(key) ?? 1) - 1;
          if (left > 0) this.#perKey.set(key, left);
          else this.#perKey.delete(key);
          this.#changed(this.#open);
        },
      },
    };
  }
}
