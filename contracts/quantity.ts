/**
 * Kubernetes quantities as numbers, for the arithmetic the semantic checks and the renderer need
 * (quota sums, Redis maxmemory). Exact enough for sizing: values are floats in base units (cores, bytes).
 */

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY =
  /^([+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][-+]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE]))?$/;

/** Parses a quantity into base units; `undefined` if it is not a valid Kubernetes quantity. */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text.trim());
  if (!match) return undefined;
  const [, digits, exponent, binary, decimal] = match;
  const value = Number(digits);
  if (exponent) return value * 10 ** Number(exponent.slice(1));
  if (binary) return value * BINARY[binary]!;
  return value * DECIMAL[decimal ?? ""]!;
}
