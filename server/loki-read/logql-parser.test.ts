/**
 * The LogQL parser over a table of real-world queries: what Grafana writes (Explore's log volume, the query
 * builder, the data source health check), Loki's documentation examples and dashboard queries. Each is also
 * parsed by `@grafana/lezer-logql`, Grafana's own LogQL grammar (its query editor's), so the table holds only
 * queries Grafana accepts; the constructs this server does not evaluate must get an error naming them.
 */
import { parser as grafanaParser } from "@grafana/lezer-logql";
import { describe, expect, it } from "vitest";
import { parseLogql } from "./logql-parser.ts";
import { LogqlError } from "./logql-lexer.ts";

function grafanaAccepts(query: string): boolean {
  let ok = true;
  grafanaParser.parse(query).iterate({
    enter: (node) => {
      if (node.type.isError) ok = false;
    },
  });
  return ok;
}

/** Queries this server evaluates. */
const SUPPORTED: string[] = [
  // Grafana Explore's log volume (Grafana 10, 11; the second with Loki 3's detected_level).
  `sum by (level) (count_over_time({service_name="checkout"} | drop __error__[1m]))`,
  `sum by (level, detected_level) (count_over_time({service_name="checkout"} | drop __error__[1m]))`,
  `sum by (level) (count_over_time({job="varlogs"} |= "error" | drop __error__[30s]))`,
  // Grafana's Loki data source health check.
  `vector(1)+vector(1)`,
  // Query builder and documentation examples.
  `{service_name="api"}`,
  `{job="mysql"} |= "error" != "timeout"`,
  `{container="frontend"} |~ "(?i)exception"`,
  `{container="query-frontend",namespace="loki-dev"} |= "metrics.go" | logfmt | duration > 10s and throughput_mb < 500`,
  `{cluster="ops-tools1", namespace="loki-dev", job="loki-dev/query-frontend"} |= "metrics.go" !="out of order" | logfmt | duration > 30s or status_code!="200"`,
  `{app="nginx"} | json | status >= 500`,
  `{app="nginx"} | json | status_code = 500`,
  `{app="api"} | json | line_format "{{.method}} {{.path}} {{.status}}"`,
  `{app="api"} | json | line_format "{{ .level }}: {{ .msg }}"`,
  `{app="api"} | logfmt | line_format "{{__line__}} took {{.duration}}"`,
  `{app="x"} | json | level="error" and status_code >= 500`,
  `{app="x"} | logfmt | size > 20MB`,
  `{app="x"} | json | __error__ = ""`,
  `{app="x"} |= "a" or "b"`,
  `{app="x"} | json user="user.name", status`,
  `{app="foo"} | keep level, method`,
  `{app="foo"} | drop __error__, __error_details__`,
  `{namespace=~"prod|staging", app!~"test-.*"} != "healthcheck"`,
  "{app=`web`} |~ `status=5\\d\\d`",
  `{app="x"} | logfmt | (status >= 500 or level = "error") and method != "OPTIONS"`,
  `count_over_time({job="mysql"}[5m])`,
  `rate({job="mysql"} |= "error" [5m])`,
  `sum(rate({job="mysql"} |= "error" [5m])) by (host)`,
  `sum by (host) (rate({job="mysql"} |= "error" != "timeout" | json | duration > 10s [1m]))`,
  `topk(10, sum by (service_name) (rate({service_name=~".+"}[5m])))`,
  `bottomk(3, sum by (pod) (count_over_time({namespace="prod"}[10m])))`,
  `sum by (host) (bytes_over_time({job="varlogs"}[1h]))`,
  `sum(bytes_rate({job="varlogs"}[1m]))`,
  `count_over_time({app="x"}[5m] offset 1h)`,
  `avg(count_over_time({app="x"}[1m])) by (level)`,
  `max without (env) (count_over_time({app="x"}[1m]))`,
  `count(sum by (pod) (count_over_time({app="x"}[1m])))`,
  `sum(rate({app="x"}[1m])) * 60`,
  `sum(count_over_time({app="x", level="error"}[5m])) / sum(count_over_time({app="x"}[5m]))`,
  `count_over_time({app="x"}[1m])`,
];

/** Real LogQL that Grafana writes and this server does not evaluate, and the construct the error must name. */
const UNSUPPORTED: [string, string][] = [
  [`sum by (le) (quantile_over_time(0.99, {app="x"} | json | unwrap latency [5m]))`, "quantile_over_time"],
  [`avg_over_time({app="x"} | logfmt | unwrap duration [5m])`, "avg_over_time"],
  [`sum_over_time({app="x"} | logfmt | unwrap bytes [1m])`, "sum_over_time"],
  [`{app="x"} | pattern "<ip> - - <_> \\"<method> <uri> <_>\\" <status>"`, "pattern stage"],
  [`{app="x"} | regexp "(?P<method>\\\\w+) (?P<path>[\\\\w/]+)"`, "regexp stage"],
  [`{app="x"} | label_format level=lvl`, "label_format stage"],
  [`{app="x"} | unpack`, "unpack stage"],
  [`{app="x"} | decolorize`, "decolorize stage"],
  [`{app="x"} |> "<_> error <_>"`, "pattern line filter"],
  [`{app="x"} |= ip("192.168.0.0/16")`, "ip() line filter"],
  [`sum(count_over_time({app="x"}[1m])) > 10`, "comparison between metric expressions"],
  [`sum(count_over_time({app="x"}[1m])) and sum(count_over_time({app="y"}[1m]))`, "set operator and"],
  [`sort(count_over_time({app="x"}[1m]))`, "function sort"],
  [`stddev(count_over_time({app="x"}[1m]))`, "function stddev"],
  [`absent_over_time({app="x"}[5m])`, "absent_over_time"],
  [`label_replace(rate({app="x"}[1m]), "foo", "$1", "service", "(.*):.*")`, "label_replace"],
  [`{app="x"} | json | line_format "{{ .msg | ToUpper }}"`, "template action"],
  [`{app="x"} | json | line_format "{{ if .err }}{{ .err }}{{ end }}"`, "template action"],
  [`{app="x"} | logfmt --strict`, "flags of logfmt"],
  [
    `sum(count_over_time({app="x"}[1m])) by (level) + on (level) sum(count_over_time({app="y"}[1m])) by (level)`,
    "on modifier",
  ],
];

/** Not LogQL at all, or not meaningful: the errors say where. */
const INVALID: [string, RegExp][] = [
  [`{app="x"`, /^parse error at line 1, col 9: syntax error: unexpected end of query/],
  [`{app=~".*"}`, /queries require at least one regexp or equality matcher/],
  [`{app="x"} |= `, /syntax error: unexpected end of query, expecting STRING/],
  [`count_over_time({app="x"})`, /expecting "\["/],
  [`{app="x"} |~ "(a"`, /invalid regular expression/],
  [`{app="x"} |~ "\\d+"`, /invalid escape \\d/],
  [`sum by (level) (count_over_time({app="x"}[$__auto]))`, /Grafana variables such as \$__auto/],
  [`rate({app="x"}[5m]) + {app="y"}`, /unexpected log expression in a binary operation/],
  [``, /the query is empty/],
];

describe("LogQL parser over real-world queries", () => {
  it.each(SUPPORTED)("parses %s (and Grafana's grammar accepts it)", (query) => {
    expect(grafanaAccepts(query)).toBe(true);
    expect(() => parseLogql(query)).not.toThrow();
  });

  it.each(UNSUPPORTED)("refuses %s, naming %s", (query, construct) => {
    expect(grafanaAccepts(query)).toBe(true);
    let error: unknown;
    try {
      parseLogql(query);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LogqlError);
    expect((error as Error).message).toContain(construct);
    expect((error as Error).message).toMatch(/^parse error at line \d+, col \d+: .*not supported/);
  });

  it.each(INVALID)("rejects %s", (query, message) => {
    expect(() => parseLogql(query)).toThrow(message);
  });

  it("reads the log volume query into what the evaluator runs", () => {
    expect(
      parseLogql(`sum by (level) (count_over_time({service_name="checkout"} | drop __error__[1m]))`),
    ).toEqual({
      kind: "aggregate",
      op: "sum",
      grouping: { without: false, labels: ["level"] },
      inner: {
        kind: "range",
        fn: "count_over_time",
        rangeMs: 60_000,
        offsetMs: 0,
        log: {
          kind: "log",
          matchers: [{ name: "service_name", op: "=", value: "checkout" }],
          pipeline: [{ kind: "drop", labels: [{ name: "__error__" }] }],
        },
      },
    });
  });

  it("keeps the order and alternatives of chained line filters and the precedence of label filters", () => {
    const expr = parseLogql(`{a="b"} |= "x" or "y" != "z" | logfmt | s >= 500 or l = "e" and m != "GET"`);
    expect(expr).toMatchObject({
      pipeline: [
        { kind: "line", op: "|=", values: ["x", "y"] },
        { kind: "line", op: "!=", values: ["z"] },
        { kind: "logfmt" },
        {
          kind: "labelFilter",
          predicate: {
            kind: "or",
            left: { kind: "number", name: "s", op: ">=", value: 500 },
            right: { kind: "and", left: { kind: "string", name: "l" }, right: { kind: "string", name: "m" } },
          },
        },
      ],
    });
  });
});
