// snappyjs ships no types; only the one function the Loki decoder uses.
declare module "snappyjs" {
  /** Throws when the data is not a Snappy block or would decompress to more than `maxLength` bytes. */
  export function uncompress(compressed: Buffer, maxLength?: number): Buffer;
}
