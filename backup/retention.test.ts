import { mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { backupNames, parseBackupName } from "./backup-naming.ts";
import { DirectoryBackupStore } from "./backup-store.ts";
import { applyRetention, snapshotsToDelete } from "./retention.ts";

const DAY = 86_400_000;
const now = new Date("2026-11-27T04:00:00.000Z");
const daysAgo = (n: number): Date => new Date(now.getTime() - n * DAY);

describe("backup names", () => {
  it("round-trips the time and only parses this exact tenant's names", () => {
    const { snapshot, manifest } = backupNames("acme", new Date("2026-11-27T03:45:00.123Z"));
    expect(snapshot).toBe("acme-20261127T034500.123Z.rdb");
    expect(manifest).toBe("acme-20261127T034500.123Z.json");
    expect(parseBackupName("acme", snapshot)).toEqual({
      takenAt: new Date("2026-11-27T03:45:00.123Z"),
      kind: "snapshot",
    });
    expect(parseBackupName("acme", manifest)?.kind).toBe("manifest");
    expect(parseBackupName("acme", "acme-eu-20261127T034500.123Z.rdb")).toBeNull();
    expect(parseBackupName("acme", "acme-20261127T034500.123Z.rdb.bak")).toBeNull();
    expect(parseBackupName("acme", "acme-notes.rdb")).toBeNull();
  });
});

describe("snapshotsToDelete", () => {
  const snapshots = [0, 1, 2, 3, 10, 20].map((d) => ({ name: `s${d}`, takenAt: daysAgo(d) }));

  it("keeps the N newest", () => {
    expect(snapshotsToDelete(snapshots, { keep: 3 }, now, "s0").sort()).toEqual(["s10", "s20", "s3"]);
  });

  it("deletes what is older than the max age", () => {
    expect(snapshotsToDelete(snapshots, { maxAgeMs: 7 * DAY }, now, "s0").sort()).toEqual(["s10", "s20"]);
  });

  it("applies both rules together", () => {
    expect(snapshotsToDelete(snapshots, { keep: 5, maxAgeMs: 2.5 * DAY }, now, "s0").sort()).toEqual([
      "s10",
      "s20",
      "s3",
    ]);
  });

  it("never deletes the backup just taken, even when the rules say so", () => {
    const late = [{ name: "new", takenAt: daysAgo(30) }, ...snapshots];
    expect(snapshotsToDelete(late, { keep: 1, maxAgeMs: DAY }, now, "new")).not.toContain("new");
  });
});

describe("applyRetention on a directory", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "nl-retention-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("deletes old snapshots with their manifests and leaves every other file alone", async () => {
    const names = [0, 1, 2, 3].map((d) => backupNames("acme", daysAgo(d)));
    const others = [
      "acme-notes.txt",
      "acme-eu-20200101T000000.000Z.rdb",
      "beta-20200101T000000.000Z.rdb",
      "dump.rdb",
      `${backupNames("acme", daysAgo(9)).snapshot}.42.partial`,
    ];
    for (const n of names) {
      await writeFile(join(dir, n.snapshot), "x");
      await writeFile(join(dir, n.manifest), "{}");
    }
    for (const other of others) await writeFile(join(dir, other), "x");
    // A partial file of a run killed two days ago (swept), and one of a run that may still be going (kept).
    const abandoned = `${backupNames("acme", daysAgo(2)).snapshot}.7.partial`;
    await writeFile(join(dir, abandoned), "x");
    await utimes(join(dir, abandoned), daysAgo(2), daysAgo(2));

    const deleted = await applyRetention(
      new DirectoryBackupStore(dir),
      "acme",
      { keep: 2 },
      now,
      names[0]!.snapshot,
    );

    expect(deleted.sort()).toEqual([names[2]!.snapshot, names[3]!.snapshot].sort());
    const left = (await readdir(dir)).sort();
    expect(left).toEqual(
      [names[0]!.snapshot, names[0]!.manifest, names[1]!.snapshot, names[1]!.manifest, ...others].sort(),
    );
  });
});
