import { describe, expect, it } from "vitest";
import { scheduleIntervalMs } from "./backup-health.ts";

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
