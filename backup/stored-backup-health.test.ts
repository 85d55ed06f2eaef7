import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { storedBackupHealth } from "./stored-backup-health.ts";
import { backupNames } from "./backup-naming.ts";
import { DirectoryBackupStore } from "./backup-store.ts";
import { MANIFEST_FORMAT } from "./manifest.ts";

const HOUR = 3_600_000;
const now = new Date("2026-11-27T04:00:00.000Z");

describe("storedBackupHealth", () => {
  let dir: string;
  let store: DirectoryBackupStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "nl-health-"));
    store = new DirectoryBackupStore(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function backup(
    hoursAgo: number,
    size: number,
    options: { manifest?: boolean; sizeInManifest?: number } = {},
  ) {
    const takenAt = new Date(now.getTime() - hoursAgo * HOUR);
    const names = backupNames("acme", takenAt);
    await writeFile(join(dir, names.snapshot), Buffer.alloc(size));
    if (options.manifest === false) return names;
    const manifest = {
      format: MANIFEST_FORMAT,
      snapshot: names.snapshot,
      takenAt: takenAt.toISOString(),
      sizeBytes: options.sizeInManifest ?? size,
      sha256: "0".repeat(64),
    };
    await writeFile(join(dir, names.manifest), JSON.stringify(manifest));
    return names;
  }

  it("reports the newest good backup: time, age and size", async () => {
    await backup(30, 100);
    const newest = await backup(6, 250);
    const health = await storedBackupHealth(store, "acme", now);
    expect(health).toEqual({
      lastSuccessAt: new Date(now.getTime() - 6 * HOUR),
      ageMs: 6 * HOUR,
      sizeBytes: 250,
      snapshot: newest.snapshot,
      count: 2,
    });
  });

  it("skips a snapshot without manifest and one whose size does not match its manifest", async () => {
    await backup(30, 100);
    await backup(2, 999, { manifest: false });
    await backup(1, 10, { sizeInManifest: 11 });
    const health = await storedBackupHealth(store, "acme", now);
    expect(health.sizeBytes).toBe(100);
    expect(health.ageMs).toBe(30 * HOUR);
  });

  it("says there is no backup at all for an empty or missing directory", async () => {
    const none = await storedBackupHealth(new DirectoryBackupStore(join(dir, "missing")), "acme", now);
    expect(none).toEqual({ lastSuccessAt: null, ageMs: null, sizeBytes: null, snapshot: null, count: 0 });
  });
});
