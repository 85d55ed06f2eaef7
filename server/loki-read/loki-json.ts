/**
 * Answers in Loki's JSON, field for field, as Grafana's Loki data source and Loki clients parse them: `streams`
 * (values `["<ns>", "<line>"]`, plus `{structuredMetadata, parsed}` when the client asked for
 * `categorize-labels`), `matrix` (`[<seconds>, "<value>"]`), `vector`, `scalar`, and `data.stats`.
 */
import type { LogRow, MetricValue } from "./logql-eval.ts";
import type { ScanStats } from "./log-scan.ts";

/** Grafana asks for labels split into stream labels, structured metadata and parsed labels with this flag. */
export const CATEGORIZE_LABELS = "categorize-labels";

type StreamValue = [string, string] | [string, string, Record<string, Record<string, string>>];

interface StreamResult {
  stream: Record<string, string>;
  values: StreamValue[];
}

/** Rows (already in answer order) grouped into streams by their labels, first appearance first. */
export function streamsResult(rows: readonly LogRow[], categorize: boolean): StreamResult[] {
  const streams = new Map<string, StreamResult>();
  for (const row of rows) {
    const labels = categorize ? row.labels.ofCategory("stream") : row.labels.all();
    const key = JSON.stringify(labels);
    let stream = streams.get(key);
    if (!stream) {
      stream = { stream: labels, values: [] };
      streams.set(key, stream);
    }
    const ns = row.ns.toString();
    if (!categorize) {
      stream.values.push([ns, row.line]);
      continue;
    }
    const extra: Record<string, Record<string, string>> = {};
    const metadata = row.labels.ofCategory("structuredMetadata");
    const parsed = row.labels.ofCategory("parsed");
    if (Object.keys(metadata).length) extra.structuredMetadata = metadata;
    if (Object.keys(parsed).length) extra.parsed = parsed;
    stream.values.push(Object.keys(extra).length ? [ns, row.line, extra] : [ns, row.line]);
  }
  return [...streams.values()];
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64), which Loki writes sample values with. */
export function formatSample(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isInteger(value) && Math.abs(value) < 1e21) return value.toFixed(0);
  const text = String(value);
  if (!/e/.test(text)) return text;
  // Exponent form from JS: expand it, as 'f' does.
  return value
    .toFixed(Math.min(100, Math.max(0, -Math.floor(Math.log10(Math.abs(value))) + 17)))
    .replace(/\.?0+$/, "");
}

const seconds = (ms: number): number => ms / 1000;

function bySortedLabels<T extends { metric: Record<string, string> }>(series: T[]): T[] {
  return series.sort((a, b) => {
    const ka = JSON.stringify(a.metric);
    const kb = JSON.stringify(b.metric);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

export function matrixResult(value: MetricValue, steps: readonly number[]) {
  const series =
    value.kind === "scalar" ? [{ metric: {}, values: steps.map(() => value.value) }] : value.series;
  return bySortedLabels(
    series
      .map((s) => ({
        metric: s.metric,
        values: s.values.flatMap((v, i) =>
          v === undefined ? [] : [[seconds(steps[i]!), formatSample(v)] as [number, string]],
        ),
      }))
      .filter((s) => s.values.length > 0),
  );
}

export function vectorResult(value: Extract<MetricValue, { kind: "vector" }>, at: number) {
  return bySortedLabels(
    value.series
      .filter((s) => s.values[0] !== undefined)
      .map((s) => ({
        metric: s.metric,
        value: [seconds(at), formatSample(s.values[0]!)] as [number, string],
      })),
  );
}

/**
 * Loki's `data.stats`, with the figures this server has: lines and bytes its pipeline examined and the time the
 * query took (Grafana's query inspector shows `summary`). The store/ingester split does not exist here: its
 * counters are reported under `querier.store` and the ingester's are zero.
 */
export function queryStats(stats: ScanStats, returned: number, startedAt: bigint) {
  const execTime = Number(process.hrtime.bigint() - startedAt) / 1e9;
  const perSecond = (n: number): number => (execTime > 0 ? Math.round(n / execTime) : 0);
  const empty = {
    totalReached: 0,
    totalChunksMatched: 0,
    totalBatches: 0,
    totalLinesSent: 0,
    store: storeStats(0, 0),
  };
  return {
    summary: {
      bytesProcessedPerSecond: perSecond(stats.bytes),
      linesProcessedPerSecond: perSecond(stats.scanned),
      totalBytesProcessed: stats.bytes,
      totalLinesProcessed: stats.scanned,
      execTime,
      queueTime: 0,
      subqueries: 0,
      totalEntriesReturned: returned,
      splits: 0,
      shards: 0,
      totalPostFilterLines: returned,
      totalStructuredMetadataBytesProcessed: 0,
    },
    querier: { store: storeStats(stats.scanned, stats.bytes) },
    ingester: empty,
    cache: {},
  };
}

function storeStats(lines: number, bytes: number) {
  return {
    totalChunksRef: 0,
    totalChunksDownloaded: 0,
    chunksDownloadTime: 0,
    queryReferencedStructuredMetadata: false,
    chunk: {
      headChunkBytes: 0,
      headChunkLines: 0,
      decompressedBytes: bytes,
      decompressedLines: lines,
      compressedBytes: 0,
      totalDuplicates: 0,
      postFilterLines: 0,
      headChunkStructuredMetadataBytes: 0,
      decompressedStructuredMetadataBytes: 0,
    },
    chunkRefsFetchTime: 0,
    congestionControlLatency: 0,
    pipelineWrapperFilteredLines: 0,
  };
}
