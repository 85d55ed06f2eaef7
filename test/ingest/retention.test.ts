/** Count-based retention trims the log stream and its batch index together; search keeps working on what is left. */
import { afterAll, beforeAll, expect, it } from "vitest";
import { tenantKeys } from "../../server/storage/keys.ts";
import { INGEST_KEY, READ_KEY, bearer, ndjson, startHarness, type Harness } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ env: { NEURALLOG_RETENTION_MAX_ENTRIES: "1000" } });
});
afterAll(async () => h?.close());

it("keeps about the newest NEURALLOG_RETENTION_MAX_ENTRIES logs", async () => {
  for (let b = 0; b < 30; b++) {
    const res = await h.app.inject({
      method: "POST",
      url: "/api/v1/logs",
      headers: bearer(INGEST_KEY),
      body: ndjson(Array.from({ length: 200 }, (_, i) => ({ msg: `kept ${b * 200 + i}`, batch: b }))),
    });
    expect(res.statusCode).toBe(200);
  }
  const keys = tenantKeys("acme");
  const length = await h.redis.xlen(keys.logs);
  // Trimming is approximate (whole macro nodes of 100 entries), never below the cap.
  expect(length).toBeGreaterThanOrEqual(1000);
  expect(length).toBeLessThan(1300);
  // The index is trimmed along (also approximately): 30 batches were written, about 6 are left.
  expect(await h.redis.xlen(keys.batches)).toBeLessThanOrEqual(12);
  const res = await h.app.inject({
    method: "GET",
    url: "/api/v1/logs?field.batch=29&limit=1000",
    headers: bearer(READ_KEY),
  });
  expect(res.json().entries).toHaveLength(200);
  const gone = await h.app.inject({
    method: "GET",
    url: "/api/v1/logs?field.batch=0",
    headers: bearer(READ_KEY),
  });
  expect(gone.json().entries).toEqual([]);
});
