// Dates in a chosen IANA time zone: the API takes instants (whole minutes, UTC on the wire) and does its
// calendar arithmetic in `timezone`; the pickers speak in local calendar days of that zone.

export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

export function allZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  const zones = intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

export function isZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const partsCache = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = partsCache.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    partsCache.set(zone, f);
  }
  return f;
}

/** The wall-clock fields of instant `ms` in `zone`. */
function wall(ms: number, zone: string): { y: number; m: number; d: number; h: number; min: number } {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  return { y: parts.year, m: parts.month, d: parts.day, h: parts.hour % 24, min: parts.minute };
}

function offsetMs(ms: number, zone: string): number {
  const w = wall(ms, zone);
  const asUtc = Date.UTC(w.y, w.m - 1, w.d, w.h, w.min);
  return asUtc - Math.floor(ms / 60000) * 60000;
}

/** `YYYY-MM-DD` (local midnight in `zone`) as an RFC 3339 UTC instant. */
export function localMidnight(date: string, zone: string): string {
  const [y, m, d] = date.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d);
  let ms = guess - offsetMs(guess, zone);
  const second = offsetMs(ms, zone);
  if (guess - second !== ms) ms = guess - second;
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/** Today's calendar date in `zone`. */
export function today(zone: string): string {
  const w = wall(Date.now(), zone);
  return ymd(w.y, w.m, w.d);
}

function ymd(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = date.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return ymd(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

export function firstOfMonth(date: string, monthsBack = 0): string {
  const [y, m] = date.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1 - monthsBack, 1));
  return ymd(t.getUTCFullYear(), t.getUTCMonth() + 1, 1);
}

export function isDate(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`));
}

/** Bucket label: the local date (and time when not midnight) of an instant in `zone`. */
export function instantLabel(iso: string, zone: string): string {
  const w = wall(Date.parse(iso), zone);
  const date = ymd(w.y, w.m, w.d);
  return w.h === 0 && w.min === 0 ? date : `${date} ${String(w.h).padStart(2, "0")}:${String(w.min).padStart(2, "0")}`;
}

/** Seconds as h:mm (total active time). */
export function hmm(seconds: number): string {
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}`;
}

export function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

export function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

// One formatter for every call: toLocaleString builds a new one each time (a 5,000-row CSV noticed).
const INTEGER = new Intl.NumberFormat("en-US");

export function integer(value: number): string {
  return INTEGER.format(value);
}
