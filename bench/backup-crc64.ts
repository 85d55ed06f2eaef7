/** `node bench/backup-crc64.ts`: throughput of the RDB checksum (CRC-64/Jones) next to SHA-256 on 256 MiB. */
import { createHash, randomBytes } from "node:crypto";
import { Crc64 } from "../backup/crc64.ts";

const chunk = randomBytes(64 * 1024); // the size of a socket read
const chunks = 4096; // 256 MiB
const mib = (chunk.length * chunks) / 2 ** 20;

function measure(name: string, update: (data: Buffer) => void): void {
  const started = process.hrtime.bigint();
  for (let i = 0; i < chunks; i++) update(chunk);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(`${name}: ${(mib / seconds).toFixed(0)} MiB/s`);
}

const crc = new Crc64();
measure("crc64 (slicing-by-8, WebAssembly)", (data) => crc.update(data));
const sha = createHash("sha256");
measure("sha256 (OpenSSL)", (data) => sha.update(data));
