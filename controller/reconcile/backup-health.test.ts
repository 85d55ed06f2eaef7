import { describe, expect, it } from "vitest";
import type { V1CronJob } from "@kubernetes/client-node";
import { backupHealth, firstSuccessGraceMs, scheduleIntervalMs } from "./backup-health.ts";

const DAY = 86_400_000;

describe("scheduleIntervalMs", () => {
  it("is the gap the schedule is in right now, also for irregular schedules and across its runs", () => {
    // Weekdays at 03:00: on Monday morning the last gap is Friday → Monday; on Tuesday, one day.
    expect(scheduleIntervalMs("0 3 * * 1-5", undefined, new Date("2026-11-23T10:00:00Z"))).toBe(3 * DAY);
    expect(scheduleIntervalMs("0 3 * * 1-5", undefined, new Date("2026-11-24T10:00:00Z"))).toBe(DAY);
    expect(scheduleIntervalMs("0 3 * * 1-5", undefined, new Date("2026-11-23T10:00:00Z"))).toBe(3 * DAY);
    expect(scheduleIntervalMs("*/15 * * * *", undefined, new Date("2026-11-24T10:07:00Z"))).toBe(15 * 60_000);
  });

  it("follows the schedule's time zone", () => {
    // Noon in Berlin on the day clocks go forward: 23 h after the noon before.
    const at = new Date("2026-03-29T12:00:00Z");
    expect(scheduleIntervalMs("0 12 * * *", "Europe/Berlin", at)).toBe(DAY - 3_600_000);
    expect(scheduleIntervalMs("0 12 * * *", "Etc/UTC", at)).toBe(DAY);
  });

  it("refuses a schedule that is not cron", () => {
    expect(() => scheduleIntervalMs("every day", undefined, new Date())).toThrow();
  });
});

describe("backupHealth of a CronJob that never succeeded", () => {
  const everyMinute = (spec: Partial<V1CronJob["spec"]> = {}): V1CronJob => ({
    metadata: { name: "acme-backup", creationTimestamp: new Date("2026-11-24T10:00:30Z") },
    spec: { schedule: "* * * * *", jobTemplate: {}, ...spec },
    status: {},
  });
  const at = (iso: string, cronJob: V1CronJob) =>
    backupHealth({ enabled: true, suspended: false, cronJobName: "acme-backup", cronJob, now: new Date(iso) })
      .state;

  it("gives a first run the deadlines Kubernetes gives it, never more than one interval", () => {
    const day = 86_400_000;
    const rendered = {
      startingDeadlineSeconds: 600,
      jobTemplate: { spec: { activeDeadlineSeconds: 3600, template: {} } },
    };
    expect(firstSuccessGraceMs(everyMinute(rendered), day)).toBe(70 * 60_000);
    expect(firstSuccessGraceMs(everyMinute(rendered), 60_000)).toBe(60_000);
    expect(firstSuccessGraceMs(everyMinute({ startingDeadlineSeconds: 600 }), day)).toBe(day);
  });

  it("is pending for one interval plus the grace after creation, then never-succeeded", () => {
    const cronJob = everyMinute();
    expect(at("2026-11-24T10:00:30Z", cronJob)).toBe("pending");
    expect(at("2026-11-24T10:02:30Z", cronJob)).toBe("pending");
    expect(at("2026-11-24T10:02:31Z", cronJob)).toBe("never-succeeded");
    const succeeded = { ...cronJob, status: { lastSuccessfulTime: new Date("2026-11-24T10:01:40Z") } };
    expect(at("2026-11-24T10:03:40Z", succeeded)).toBe("healthy");
    expect(at("2026-11-24T10:03:41Z", succeeded)).toBe("stale");
  });
});
