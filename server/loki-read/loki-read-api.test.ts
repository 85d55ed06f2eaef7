/**
 * The Loki read API against a real server with real Redis, driven by real Loki clients: `@myunisoft/loki`
 * (a Node Loki SDK: push, query_range, labels, label values, series) and a `ws` WebSocket speaking Loki's tail
 * protocol. Every expected answer is computed here, independently, from the logs the test pushed.
 */
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from "@myunisoft/httpie";
import { GrafanaApi } from "@myunisoft/loki";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { INGEST_KEY, READ_KEY, bearer, startHarness, type Harness } from "../../test/ingest/harness.ts";

let h: Harness;
let url: string;
let reader: GrafanaApi;
let shipper: GrafanaApi;

interface Sent {
  readonly ns: bigint;
  readonly service: string;
  readonly level: string;
  readonly env: string;
  readonly line: string;
  readonly status: number;
  readonly method: string;
  readonly durationS: number;
}

const SERVICES = ["api", "web", "db"];
const LEVELS = ["info", "warn", "error"];
const METHODS = ["GET", "POST"];
/** The data's window: 20 minutes ending a minute ago, one log every 2 s, with sub-millisecond times. */
const NOW = Date.now();
const END_MS = Math.floor(NOW / 60_000) * 60_000 - 60_000;
const START_MS = END_MS - 20 * 60_000;
const sent: Sent[] = [];

function dataset(): Sent[] {
  const out: Sent[] = [];
  let i = 0;
  for (let ms = START_MS; ms < END_MS; ms += 2000, i++) {
    const service = SERVICES[i % 3]!;
    const level = LEVELS[Math.floor(i / 3) % 3]!;
    const status = [200, 200, 404, 500, 503][i % 5]!;
    const method = METHODS[i % 2]!;
    const durationS = (i % 9) * 0.5;
    const line = `method=${method} path=/orders/${i} status=${status} duration=${durationS}s msg="${i % 4 === 0 ? "upstream timeout" : "done"}"`;
    out.push({
      ns: BigInt(ms) * 1_000_000n + BigInt(i % 1000) * 1000n + 7n,
      service,
      level,
      env: i % 2 ? "prod" : "dev",
      line,
      status,
      method,
      durationS,
    });
  }
  return out;
}

beforeAll(async () => {
  h = await startHarness();
  url = await h.app.listen({ port: 0, host: "127.0.0.1" });
  reader = new GrafanaApi({ remoteApiURL: url, authentication: { type: "bearer", token: READ_KEY } });
  shipper = new GrafanaApi({ remoteApiURL: url, authentication: { type: "bearer", token: INGEST_KEY } });
  sent.push(...dataset());
  // Pushed by the same client, one stream per label set, as Promtail would.
  const streams = new Map<string, { stream: Record<string, string>; values: [string, string][] }>();
  for (const log of sent) {
    const key = `${log.service}/${log.level}/${log.env}`;
    const stream = streams.get(key) ?? {
      stream: { service_name: log.service, level: log.level, env: log.env },
      values: [],
    };
    stream.values.push([log.ns.toString(), log.line]);
    streams.set(key, stream);
  }
  await shipper.Loki.push(streams.values());
});
afterAll(async () => h?.close());

/**
 * The SDK's `series()` (6.0.0) sends no credentials, unlike its other calls: for that call the key is added on
 * the way out, as an authenticating proxy in front of the server would (undici's dispatcher, which the SDK uses).
 */
async function withSeriesCredentials<T>(call: () => Promise<T>): Promise<T> {
  const previous = getGlobalDispatcher();
  const authorization = `Bearer ${READ_KEY}`;
  setGlobalDispatcher(
    new Agent().compose((dispatch) => (options, handler) => {
      const headers = options.headers;
      const withKey = Array.isArray(headers)
        ? [...(headers as string[]), "authorization", authorization]
        : { ...(headers as Record<string, string> | undefined), authorization };
      return dispatch({ ...options, headers: withKey }, handler);
    }),
  );
  try {
    return await call();
  } finally {
    setGlobalDispatcher(previous);
  }
}

const nsOf = (ms: number): string => (BigInt(Math.round(ms)) * 1_000_000n).toString();

async function get(path: string, params: Record<string, string>, key = READ_KEY) {
  const response = await fetch(`${url}${path}?${new URLSearchParams(params)}`, { headers: bearer(key) });
  return {
    status: response.status,
    type: response.headers.get("content-type") ?? "",
    text: await response.text(),
  };
}

async function getJson(path: string, params: Record<string, string>) {
  const answer = await get(path, params);
  expect(answer.status, answer.text).toBe(200);
  return JSON.parse(answer.text) as { status: string; data: Record<string, unknown> & { result: unknown[] } };
}

describe("log queries through the Loki SDK", () => {
  it("query_range returns the matching lines, newest first, with exact nanosecond times", async () => {
    const expected = sent
      .filter((l) => l.service === "api" && l.line.includes("timeout"))
      .sort((a, b) => (a.ns < b.ns ? 1 : -1))
      .slice(0, 25);
    const { streams } = await reader.Loki.queryRangeStream(`{service_name="api"} |= "timeout"`, {
      start: nsOf(START_MS),
      end: nsOf(END_MS),
      limit: 25,
    });
    const got = streams
      .flatMap((s) =>
        s.values.map(([ns, line]) => ({ ns: String(ns), line: String(line), labels: s.labels })),
      )
      .sort((a, b) => (BigInt(a.ns) < BigInt(b.ns) ? 1 : -1));
    expect(got.map((r) => [r.ns, r.line])).toEqual(expected.map((l) => [l.ns.toString(), l.line]));
    // The pushed labels read back as they were pushed.
    for (const row of got) {
      const log = expected.find((l) => l.ns.toString() === row.ns)!;
      expect(row.labels).toEqual({ service_name: "api", level: log.level, env: log.env });
    }
  });

  it("logfmt, numeric and duration label filters and line_format compose like Loki's", async () => {
    const query = `{env="prod"} != "timeout" | logfmt | status >= 500 and duration > 1s | line_format "{{.method}} {{.path}} {{.status}}"`;
    const expected = sent
      .filter((l) => l.env === "prod" && !l.line.includes("timeout") && l.status >= 500 && l.durationS > 1)
      .sort((a, b) => (a.ns < b.ns ? 1 : -1))
      .map((l) => `${l.method} ${l.line.split(" ")[1]!.slice(5)} ${l.status}`);
    const { logs } = await reader.Loki.queryRange(query, {
      start: nsOf(START_MS),
      end: nsOf(END_MS),
      limit: 1000,
    });
    expect(expected.length).toBeGreaterThan(10);
    expect(logs).toEqual(expected);
  });

  it("regex matchers are anchored in selectors and free in line filters", async () => {
    const { logs } = await reader.Loki.queryRange(
      `{service_name=~"a.|d.", level!~"err.*"} |~ "path=/orders/[0-9]*7 "`,
      {
        start: nsOf(START_MS),
        end: nsOf(END_MS),
        limit: 1000,
      },
    );
    // "a." is anchored: it does not match "api"; "d." matches "db".
    const expected = sent
      .filter((l) => l.service === "db" && l.level !== "error" && / path=\/orders\/[0-9]*7 /.test(l.line))
      .sort((a, b) => (a.ns < b.ns ? 1 : -1))
      .map((l) => l.line);
    expect(logs).toEqual(expected);
  });

  it("|= is a substring match whether or not the index's token search can narrow it", async () => {
    // " status=500 " holds the whole tokens status and 500 (the index narrows the read by them);
    // "tatus=50" holds none whole (both ends may be parts of longer tokens): the read is not narrowed.
    for (const needle of [" status=500 ", "tatus=50", "=/orders/1"]) {
      const { logs } = await reader.Loki.queryRange(`{env="prod"} |= ${JSON.stringify(needle)}`, {
        start: nsOf(START_MS),
        end: nsOf(END_MS),
        limit: 1000,
      });
      const expected = sent
        .filter((l) => l.env === "prod" && l.line.includes(needle))
        .sort((a, b) => (a.ns < b.ns ? 1 : -1))
        .map((l) => l.line);
      expect(expected.length, needle).toBeGreaterThan(5);
      expect(logs, needle).toEqual(expected);
    }
  });

  it("categorize-labels splits stream labels, structured metadata and parsed labels as Grafana asks", async () => {
    const body = await fetch(
      `${url}/loki/api/v1/query_range?${new URLSearchParams({ query: '{service_name="web"} | logfmt', start: nsOf(START_MS), end: nsOf(END_MS), limit: "1" })}`,
      { headers: { ...bearer(READ_KEY), "x-loki-response-encoding-flags": "categorize-labels" } },
    ).then(
      (r) =>
        r.json() as Promise<{
          data: { encodingFlags: string[]; result: { stream: object; values: unknown[][] }[] };
        }>,
    );
    expect(body.data.encodingFlags).toEqual(["categorize-labels"]);
    const [stream] = body.data.result;
    expect(Object.keys(stream!.stream).sort()).toEqual(["level", "service_name"]);
    const extra = stream!.values[0]![2] as {
      structuredMetadata: Record<string, string>;
      parsed: Record<string, string>;
    };
    expect(Object.keys(extra.structuredMetadata)).toEqual(["env"]);
    expect(Object.keys(extra.parsed).sort()).toEqual(["duration", "method", "msg", "path", "status"]);
  });
});

describe("metadata through the Loki SDK", () => {
  it("labels, label values and series", async () => {
    const range = { start: nsOf(START_MS), end: nsOf(END_MS) };
    expect(await reader.Loki.labels(range)).toEqual(["env", "level", "service_name"]);
    expect(await reader.Loki.labelValues("service_name", range)).toEqual(["api", "db", "web"]);
    expect(await reader.Loki.labelValues("level", range)).toEqual(["error", "info", "warn"]);
    expect(await reader.Loki.labelValues("env", range)).toEqual(["dev", "prod"]);
    // (The SDK's selector parser drops the `service_` of `service_name`, so this selector names other labels.)
    const series = await withSeriesCredentials(() => reader.Loki.series(`{env="dev", level="warn"}`));
    const expected = new Set(sent.filter((l) => l.env === "dev" && l.level === "warn").map((l) => l.service));
    expect(expected.size).toBeGreaterThan(1);
    expect(series.map((s) => JSON.stringify(s)).sort()).toEqual(
      [...expected]
        .map((service) => JSON.stringify({ env: "dev", level: "warn", service_name: service }))
        .sort(),
    );
  });

  it("index stats and volume count the selection's entries and bytes", async () => {
    const params = { query: '{service_name="api"}', start: nsOf(START_MS), end: nsOf(END_MS) };
    const api = sent.filter((l) => l.service === "api");
    const bytes = api.reduce((n, l) => n + Buffer.byteLength(l.line), 0);
    const stats = JSON.parse((await get("/loki/api/v1/index/stats", params)).text) as Record<string, number>;
    const streams = new Set(api.map((l) => l.level)).size;
    expect(streams).toBe(3);
    expect(stats).toEqual({ streams, chunks: streams, entries: api.length, bytes });
    const volume = await getJson("/loki/api/v1/index/volume", { ...params, targetLabels: "service_name" });
    expect(volume.data.result).toEqual([
      { metric: { service_name: "api" }, value: [END_MS / 1000, String(bytes)] },
    ]);
  });
});

/** Loki's window at step t: (t - range, t]. */
function countIn(logs: readonly Sent[], t: number, rangeMs: number): number {
  return logs.filter((l) => {
    const ms = Number(l.ns / 1_000_000n) + Number(l.ns % 1_000_000n) / 1e6;
    return ms > t - rangeMs && ms <= t;
  }).length;
}

describe("metric queries, checked against counts computed from the pushed logs", () => {
  it("Grafana's log volume query: sum by (level) (count_over_time(... | drop __error__ [1m]))", async () => {
    const start = START_MS;
    const end = END_MS + 60_000;
    const { metrics } = await reader.Loki.queryRangeMatrix(
      `sum by (level) (count_over_time({service_name="api"} | drop __error__[1m]))`,
      { start: nsOf(start), end: nsOf(end) },
    );
    // The SDK sends no step: Loki's default, (end - start) / 250 in whole seconds.
    const step = Math.max(1, Math.floor((end - start) / 250 / 1000)) * 1000;
    for (const level of LEVELS) {
      const logs = sent.filter((l) => l.service === "api" && l.level === level);
      const expected: [number, string][] = [];
      for (let t = start; t <= end; t += step) {
        const n = countIn(logs, t, 60_000);
        if (n > 0) expected.push([t / 1000, String(n)]);
      }
      const series = metrics.find((m) => m.labels.level === level);
      expect(series?.labels).toEqual({ level });
      expect(series?.values).toEqual(expected);
    }
    expect(metrics).toHaveLength(3);
  });

  it("rate, bytes_over_time and topk at one instant (/query)", async () => {
    const at = END_MS;
    const rate = await getJson("/loki/api/v1/query", {
      query: `sum by (env) (rate({service_name=~".+"} |= "timeout" [5m]))`,
      time: nsOf(at),
    });
    expect(rate.data.resultType).toBe("vector");
    const expectedRate = ["dev", "prod"]
      .map((env) => ({
        env,
        n: countIn(
          sent.filter((l) => l.env === env && l.line.includes("timeout")),
          at,
          300_000,
        ),
      }))
      .filter((e) => e.n > 0)
      .map((e) => ({ metric: { env: e.env }, value: [at / 1000, String(e.n / 300)] }));
    expect(rate.data.result).toEqual(expectedRate);

    const bytes = await getJson("/loki/api/v1/query", {
      query: `sum(bytes_over_time({service_name="db"}[10m]))`,
      time: nsOf(at),
    });
    const dbBytes = sent
      .filter((l) => l.service === "db" && countIn([l], at, 600_000) === 1)
      .reduce((n, l) => n + Buffer.byteLength(l.line), 0);
    expect(bytes.data.result).toEqual([{ metric: {}, value: [at / 1000, String(dbBytes)] }]);

    const top = await getJson("/loki/api/v1/query", {
      query: `topk(2, sum by (service_name) (count_over_time({service_name=~".+"} | logfmt | status >= 500 [20m])))`,
      time: nsOf(at),
    });
    const counts = SERVICES.map((s) => ({
      s,
      n: countIn(
        sent.filter((l) => l.service === s && l.status >= 500),
        at,
        1_200_000,
      ),
    })).sort((a, b) => b.n - a.n);
    const result = top.data.result as { metric: { service_name: string }; value: [number, string] }[];
    expect(result).toHaveLength(2);
    for (const series of result) {
      const count = counts.find((c) => c.s === series.metric.service_name)!;
      expect(series.value[1]).toBe(String(count.n));
      expect(count.n).toBeGreaterThanOrEqual(counts[2]!.n);
    }
  });

  it("answers Grafana's data source health check, vector(1)+vector(1), with 2", async () => {
    const answer = await getJson("/loki/api/v1/query", { query: "vector(1)+vector(1)", time: "1700000000" });
    expect(answer.data.result).toEqual([{ metric: {}, value: [1700000000, "2"] }]);
  });

  it("query_range of a metric query over POST (form-encoded, as Grafana may send it), with an explicit step", async () => {
    const response = await fetch(`${url}/loki/api/v1/query_range`, {
      method: "POST",
      headers: { ...bearer(READ_KEY), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        query: `count_over_time({service_name="web", level="warn"}[2m])`,
        start: String(START_MS / 1000),
        end: String(END_MS / 1000),
        step: "120",
      }),
    });
    const body = (await response.json()) as {
      data: { resultType: string; result: { metric: object; values: [number, string][] }[] };
    };
    expect(body.data.resultType).toBe("matrix");
    const logs = sent.filter((l) => l.service === "web" && l.level === "warn");
    // Without aggregation every label set is its own series (env is structured metadata).
    for (const series of body.data.result) {
      const env = (series.metric as { env: string }).env;
      const expected: [number, string][] = [];
      for (let t = START_MS; t <= END_MS; t += 120_000) {
        const n = countIn(
          logs.filter((l) => l.env === env),
          t,
          120_000,
        );
        if (n > 0) expected.push([t / 1000, String(n)]);
      }
      expect(series.values).toEqual(expected);
    }
    expect(body.data.result.length).toBe(new Set(logs.map((l) => l.env)).size);
  });
});

describe("errors in Loki's shape", () => {
  it.each([
    [`{app="x"} | pattern "<_> <status>"`, "the pattern stage is not supported"],
    [
      `sum by (le) (quantile_over_time(0.99, {app="x"} | logfmt | unwrap latency [5m]))`,
      "the function quantile_over_time is not supported",
    ],
    [
      `sum(count_over_time({app="x"}[1m])) > 10`,
      "comparison between metric expressions (>) is not supported",
    ],
    [`{app="x"} | json | line_format "{{ .msg | ToUpper }}"`, "line_format: the template action"],
    [`{app=~".*"}`, "queries require at least one regexp or equality matcher"],
    [`{app="x"`, "syntax error: unexpected end of query"],
    [`{app="x"} |~ "(a)\\\\1"`, "backreferences"],
  ])("%s → 400 text", async (query, message) => {
    const answer = await get("/loki/api/v1/query_range", { query, start: nsOf(START_MS), end: nsOf(END_MS) });
    expect(answer.status).toBe(400);
    expect(answer.type).toMatch(/^text\/plain/);
    expect(answer.text).toContain(message);
    expect(answer.text).toMatch(/^(parse error at line \d+, col \d+: )?\S/);
  });

  it("bounds every query: limit, time range, resolution", async () => {
    const limit = await get("/loki/api/v1/query_range", { query: '{service_name="api"}', limit: "6000" });
    expect([limit.status, limit.text]).toEqual([
      400,
      "max entries limit per query exceeded, limit > max_entries_limit_per_query (6000 > 5000)\n",
    ]);
    const range = await get("/loki/api/v1/query_range", {
      query: '{service_name="api"}',
      start: "1600000000",
      end: "1603000000",
    });
    expect(range.status).toBe(400);
    expect(range.text).toContain("the query time range exceeds the limit");
    const points = await get("/loki/api/v1/query_range", {
      query: 'count_over_time({service_name="api"}[1m])',
      start: "1600000000",
      end: "1600100000",
      step: "1",
    });
    expect(points.status).toBe(400);
    expect(points.text).toContain("exceeded maximum resolution of 11,000 points");
  });

  it("log queries at an instant are refused, as Loki 3 does", async () => {
    const answer = await get("/loki/api/v1/query", { query: '{service_name="api"}' });
    expect(answer.status).toBe(400);
    expect(answer.text).toContain("log queries are not supported as an instant query type");
  });

  it("needs the read scope", async () => {
    expect((await get("/loki/api/v1/labels", {}, INGEST_KEY)).status).toBe(403);
    expect((await fetch(`${url}/loki/api/v1/labels`)).status).toBe(401);
  });

  it("/ready and buildinfo", async () => {
    const ready = await fetch(`${url}/ready`);
    expect([ready.status, await ready.text()]).toEqual([200, "ready\n"]);
    const info = await getJson("/loki/api/v1/status/buildinfo", {});
    expect(info).toMatchObject({ version: expect.stringMatching(/^3\./) });
  });
});

describe("live tail over Loki's WebSocket protocol", () => {
  it("sends the backfill, then new logs the query keeps, and ends on close", async () => {
    const received: { stream: Record<string, string>; values: [string, string][] }[] = [];
    const socket = new WebSocket(
      `${url.replace("http", "ws")}/loki/api/v1/tail?${new URLSearchParams({ query: '{service_name="api"} |= "timeout"', limit: "3", start: nsOf(START_MS) })}`,
      { headers: bearer(READ_KEY) },
    );
    let wake: () => void = () => undefined;
    socket.on("message", (data) => {
      received.push(...(JSON.parse(String(data)) as { streams: typeof received }).streams);
      wake();
    });
    const lines = (): string[] => received.flatMap((s) => s.values.map(([, line]) => line));
    const waitFor = async (n: number): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (lines().length < n) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${n} tailed lines, got ${lines().length}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
    };
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    await waitFor(3);
    const newest = sent
      .filter((l) => l.service === "api" && l.line.includes("timeout"))
      .sort((a, b) => (a.ns < b.ns ? -1 : 1))
      .slice(-3)
      .map((l) => l.line);
    expect(lines()).toEqual(newest);

    const t = BigInt(Date.now()) * 1_000_000n;
    await shipper.Loki.push([
      {
        stream: { service_name: "api", level: "error" },
        values: [
          [t.toString(), "live: upstream timeout"],
          [(t + 1n).toString(), "live: fine"],
          [(t + 2n).toString(), "live: second timeout"],
        ],
      },
      { stream: { service_name: "web" }, values: [[(t + 3n).toString(), "web timeout (other service)"]] },
    ]);
    await waitFor(5);
    expect(lines().slice(3)).toEqual(["live: upstream timeout", "live: second timeout"]);
    expect(received.at(-1)!.stream).toEqual({ service_name: "api", level: "error" });
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.close();
    await closed;
  });

  it("refuses a bad query before the upgrade", async () => {
    const socket = new WebSocket(
      `${url.replace("http", "ws")}/loki/api/v1/tail?query=${encodeURIComponent('count_over_time({a="b"}[1m])')}`,
      {
        headers: bearer(READ_KEY),
      },
    );
    const status = await new Promise<number>((resolve) => {
      socket.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      socket.once("open", () => resolve(101));
    });
    expect(status).toBe(400);
  });
});
