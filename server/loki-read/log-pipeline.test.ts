/**
 * LogQL pipelines over stored logs, stage by stage, as Loki defines them: what each stage keeps, the labels and
 * line it leaves, and how NeuralLog's fields (structured metadata) take part.
 */
import { describe, expect, it } from "vitest";
import type { StoredLogEntry } from "../logs/log-entry.ts";
import { compilePipeline } from "./log-pipeline.ts";
import { parseLogSelector } from "./logql-parser.ts";
import { prefilter, wholeTokens } from "./log-scan.ts";

function log(message: string, fields: StoredLogEntry["fields"] = {}, more: Partial<StoredLogEntry> = {}) {
  return {
    id: "1-0",
    timestamp: 1_700_000_000_000,
    level: "info",
    source: "api",
    message,
    fields,
    ...more,
  } as StoredLogEntry;
}

function run(query: string, entry: StoredLogEntry) {
  const result = compilePipeline(parseLogSelector(query))(entry);
  return result && { line: result.line, labels: result.labels.all() };
}

describe("log pipelines", () => {
  it("| json flattens nested keys with _ and adds them as parsed labels", () => {
    const result = run(
      `{service_name="api"} | json`,
      log(`{"http":{"status":503,"path":"/x"},"msg":"slow","tags":[1]}`),
    );
    expect(result?.labels).toEqual({
      http_path: "/x",
      http_status: "503",
      level: "info",
      msg: "slow",
      service_name: "api",
    });
  });

  it("| json on a line that is not JSON leaves the fields NeuralLog parsed at ingest, without __error__", () => {
    const entry = log("slow request", { "http.status": 503, user: "u1" });
    expect(run(`{service_name="api"} | json | http_status >= 500`, entry)?.labels).toEqual({
      http_status: "503",
      level: "info",
      service_name: "api",
      user: "u1",
    });
    expect(run(`{service_name="api"} | json code="http.status" | code = 503`, entry)?.labels.code).toBe(
      "503",
    );
    expect(run(`{service_name="api"} | json | __error__ = ""`, entry)).toBeDefined();
  });

  it("a parsed key that is a stream label with another value becomes <name>_extracted", () => {
    const result = run(`{service_name="api"} | json`, log(`{"level":"debug","service_name":"api"}`));
    expect(result?.labels).toMatchObject({ level: "info", level_extracted: "debug", service_name: "api" });
    expect(result?.labels).not.toHaveProperty("service_name_extracted");
  });

  it("| logfmt reads quoted values and bare keys", () => {
    const result = run(`{service_name="api"} | logfmt`, log(`at=info msg="a \\"quoted\\" word" retry`));
    expect(result?.labels).toMatchObject({ at: "info", msg: 'a "quoted" word', retry: "" });
  });

  it('a numeric filter on a value that is not a number keeps the log with __error__, which | __error__="" drops', () => {
    const entry = log("x", { status: "n/a" });
    expect(run(`{service_name="api"} | status > 200`, entry)?.labels).toMatchObject({
      __error__: "LabelFilterErr",
    });
    expect(run(`{service_name="api"} | status > 200 | __error__ = ""`, entry)).toBeUndefined();
    expect(
      run(`{service_name="api"} | status > 200 | drop __error__, __error_details__`, entry)?.labels,
    ).not.toHaveProperty("__error__");
  });

  it("compares durations and sizes in their units", () => {
    const entry = log("x", { took: "1.5s", size: "3MB" });
    expect(run(`{service_name="api"} | took > 1s and took <= 1500ms`, entry)).toBeDefined();
    expect(run(`{service_name="api"} | took > 2s`, entry)).toBeUndefined();
    expect(run(`{service_name="api"} | size >= 3000KB and size < 3MiB`, entry)).toBeDefined();
  });

  it("line filters: chained, with or alternatives, negative alternatives drop either", () => {
    const entry = log("GET /orders 500 upstream timeout");
    expect(run(`{service_name="api"} |= "500" |= "timeout" != "healthcheck"`, entry)).toBeDefined();
    expect(run(`{service_name="api"} |= "404" or "500"`, entry)).toBeDefined();
    expect(run(`{service_name="api"} != "healthcheck" or "timeout"`, entry)).toBeUndefined();
    expect(run(`{service_name="api"} |~ "5\\\\d\\\\d"`, entry)).toBeDefined();
    expect(run(`{service_name="api"} !~ "(?i)UPSTREAM"`, entry)).toBeUndefined();
  });

  it("line_format renders labels (a missing one as nothing) and __line__", () => {
    const result = run(
      `{service_name="api"} | logfmt | line_format "{{.method}} {{ .missing }}-{{.status}} [{{__line__}}]"`,
      log("method=GET status=200"),
    );
    expect(result?.line).toBe("GET -200 [method=GET status=200]");
  });

  it("keep leaves only the named labels; drop with a matcher drops only matching values", () => {
    const entry = log("x", { env: "prod", user: "u1" });
    expect(run(`{service_name="api"} | keep level, env`, entry)?.labels).toEqual({
      env: "prod",
      level: "info",
    });
    expect(run(`{service_name="api"} | drop env="dev", user`, entry)?.labels).toEqual({
      env: "prod",
      level: "info",
      service_name: "api",
    });
  });

  it("source aliases and detected_level in selectors; a selector's alias label reads back under its name", () => {
    const entry = log("x", {}, { source: "billing", level: "error" });
    expect(run(`{job="billing", detected_level="error"}`, entry)?.labels).toEqual({
      detected_level: "error",
      job: "billing",
      level: "error",
      service_name: "billing",
    });
    // A field of that name wins over the alias.
    expect(run(`{job="billing"}`, log("x", { job: "nightly" }, { source: "billing" }))).toBeUndefined();
  });
});

describe("what the index may narrow a read by", () => {
  it("only the tokens a matching line must hold whole", () => {
    expect(wholeTokens("connection refused by peer")).toEqual(["refused", "by"]);
    expect(wholeTokens(" status=500 ")).toEqual(["status", "500"]);
    expect(wholeTokens("tatus=50")).toEqual([]);
    expect(wholeTokens("zqxneedle")).toEqual([]);
    expect(wholeTokens('msg="Upstream Timeout"')).toEqual(["upstream", "timeout"]);
  });

  it("exact source, level and field matchers, and the leading |= filters' whole tokens and texts", () => {
    const { matchers, pipeline } = parseLogSelector(
      `{service_name="api", level="warn", env="prod", http_status="500", job="x", region=~"eu.*"} |= " a=b " != " c " |= "x y z" | logfmt |= " late "`,
    );
    expect(prefilter({ matchers, pipeline })).toEqual({
      source: "api",
      level: "warn",
      fields: { env: "prod" },
      q: "a b y",
      // `!= " c "` and the `|=` after `| logfmt` are the pipeline's alone.
      contains: [" a=b ", "x y z"],
    });
    expect(prefilter(parseLogSelector(`{service_name=~".+"} |= "zqxneedle" |= "a" or "b"`))).toEqual({
      contains: ["zqxneedle"],
    });
  });
});
