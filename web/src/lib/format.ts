// Number formats of the AI sessions and compute pages. The exact values stay in the cells' data-value.

const USD = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** A Decimal (a JSON string, exact) as dollars with cents; cents below one shown with four places. */
export function usd(value: string | number | null): string {
  if (value === null) return "–";
  const n = typeof value === "number" ? value : Number(value);
  if (n !== 0 && Math.abs(n) < 0.01) return `$${n.toFixed(4)}`;
  return USD.format(n);
}

/** Token counts: 1.2M, 350K. */
export function compact(value: number): string {
  return COMPACT.format(value);
}

/** A duration in seconds as 45s, 12m 05s, 1h 07m. */
export function duration(seconds: number | null): string {
  if (seconds === null) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}

/** A utilization ratio (used / limit) as a percentage with one decimal. */
export function ratio(value: number | null): string {
  return value === null ? "–" : `${(value * 100).toFixed(1)}%`;
}

/** The upper bound of a duration histogram bucket, as a column heading. */
export function bucketLabel(le: number | null, previous: number | null): string {
  const d = (s: number) => (s < 3600 ? `${s / 60}m` : `${s / 3600}h`);
  if (le === null) return previous === null ? "any" : `> ${d(previous)}`;
  return previous === null ? `≤ ${d(le)}` : `${d(previous)}–${d(le)}`;
}

// Colour-blind friendly palette (Okabe–Ito, with the page's blue first).
export const PALETTE = ["#1f4e8c", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#7a6f00", "#555555"];

export function colorOf(key: string, keys: string[]): string {
  const index = keys.indexOf(key);
  return PALETTE[(index < 0 ? keys.length : index) % PALETTE.length];
}
