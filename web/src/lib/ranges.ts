// Date range presets. A range is a span of whole local days [from, to] in the page's time zone; the API
// gets [midnight of `from`, midnight after `to`) as instants.
import type { Option } from "../components/Controls";
import { addDays, firstOfMonth, localMidnight, today } from "./time";

export interface DayRange {
  from: string;
  to: string;
}

type Preset = { value: string; label: string; days: (today: string) => DayRange };

const lastDays = (n: number) => (t: string) => ({ from: addDays(t, -(n - 1)), to: t });

export const ACTIVITY_PRESETS: Preset[] = [
  { value: "7d", label: "Last 7 days", days: lastDays(7) },
  { value: "30d", label: "Last 30 days", days: lastDays(30) },
  { value: "90d", label: "Last 90 days", days: lastDays(90) },
  { value: "month", label: "This month", days: (t) => ({ from: firstOfMonth(t), to: t }) },
  {
    value: "last-month",
    label: "Last month",
    days: (t) => ({ from: firstOfMonth(t, 1), to: addDays(firstOfMonth(t), -1) }),
  },
];

export const INSIGHTS_PRESETS: Preset[] = [
  { value: "today", label: "Today", days: (t) => ({ from: t, to: t }) },
  { value: "yesterday", label: "Yesterday", days: (t) => ({ from: addDays(t, -1), to: addDays(t, -1) }) },
  { value: "7d", label: "Last 7 days", days: lastDays(7) },
  { value: "14d", label: "Last 14 days", days: lastDays(14) },
  { value: "30d", label: "Last 30 days", days: lastDays(30) },
  { value: "4w", label: "Last 4 weeks", days: lastDays(28) },
  { value: "12w", label: "Last 12 weeks", days: lastDays(84) },
  { value: "24w", label: "Last 24 weeks", days: lastDays(168) },
  { value: "48w", label: "Last 48 weeks", days: lastDays(336) },
];

export function presetOptions(presets: Preset[]): Option[] {
  return [...presets.map((p) => ({ value: p.value, label: p.label })), { value: "custom", label: "Custom" }];
}

/** The days of a preset (or of the custom `from`/`to`) as seen today in `zone`. */
export function resolveRange(presets: Preset[], preset: string, zone: string, from: string, to: string): DayRange {
  const p = presets.find((x) => x.value === preset);
  if (p) return p.days(today(zone));
  return from <= to ? { from, to } : { from: to, to: from };
}

export function rangeInstants(range: DayRange, zone: string): { start: string; end: string } {
  return { start: localMidnight(range.from, zone), end: localMidnight(addDays(range.to, 1), zone) };
}
