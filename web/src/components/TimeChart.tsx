import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface ChartSeries {
  label: string;
  /** null draws a gap (no data), never a zero. */
  values: (number | null)[];
  color: string;
  dash?: number[];
  /** Left out of the legend (a helper series such as a partial last bucket). */
  helper?: boolean;
}

interface TimeChartProps {
  id: string;
  /** Accessible name of the chart (its numbers are in the table beside it). */
  label: string;
  /** Bucket starts, RFC 3339. */
  x: string[];
  /** Start of the range (RFC 3339) when it comes before the first point: the x axis starts there. */
  xStart?: string;
  /** End of the last bucket (RFC 3339): the x axis spans [first start, this]. */
  xEnd?: string;
  series: ChartSeries[];
  zone: string;
  height?: number;
  yLabel?: string;
  /** The bucket length in seconds: no tick closer than a bucket (days for DAY and WEEK buckets). */
  step?: number;
  /** Formats the y axis' values (percent, dollars). */
  yFormat?: (value: number) => string;
  /** The y axis' top when the data stays below it (1 for utilization); the data's max otherwise. */
  yMax?: number;
}

const MINUTE = 60;
const HOUR = 3600;
const DAY = 86400;
// uPlot's time increments, from which the axis takes the first that leaves room between ticks.
const TIME_INCREMENTS = [
  1, 5, 10, 15, 30, MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR,
  6 * HOUR, 8 * HOUR, 12 * HOUR, DAY, 2 * DAY, 3 * DAY, 4 * DAY, 5 * DAY, 6 * DAY, 7 * DAY, 14 * DAY, 28 * DAY,
  30 * DAY, 60 * DAY, 90 * DAY, 180 * DAY, 365 * DAY, 2 * 365 * DAY, 5 * 365 * DAY, 10 * 365 * DAY,
];

/** The tick increments for buckets of `step` seconds: none finer than a bucket, days from a day up. */
export function tickIncrements(step: number | undefined): number[] {
  if (!step || step <= 0) return TIME_INCREMENTS;
  const floor = step >= DAY ? Math.max(DAY, Math.floor(step / DAY) * DAY) : step;
  const kept = TIME_INCREMENTS.filter((i) => i >= floor);
  return kept[0] === floor ? kept : [floor, ...kept];
}

/** The bucket length in seconds of evenly spaced bucket starts (RFC 3339); undefined with fewer than two. */
export function bucketSeconds(starts: string[]): number | undefined {
  if (starts.length < 2) return undefined;
  let least = Infinity;
  for (let i = 1; i < starts.length; i++) least = Math.min(least, (Date.parse(starts[i]) - Date.parse(starts[i - 1])) / 1000);
  // A day bucket across a DST change is 23 or 25 hours: still days.
  return least >= 23 * HOUR && least < 2 * DAY ? DAY : least;
}

/** A uPlot time-series chart sized to its container, axes in the page's time zone. */
export function TimeChart(props: TimeChartProps) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const xs = props.x.map((iso) => Date.parse(iso) / 1000);
    const step = props.step ?? bucketSeconds(props.x);
    const data: uPlot.AlignedData = [xs, ...props.series.map((s) => s.values)];
    const options: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: props.height ?? 220,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), props.zone),
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: {
          time: true,
          range: (_u, min, max) => {
            // from the data itself: for a single point uPlot pads min and max by a share of the value's
            // magnitude (years, for a timestamp), so its min and max only stand in when there is no data
            const first = xs.length ? xs[0] : min;
            const last = xs.length ? xs[xs.length - 1] : max;
            const lo = props.xStart ? Math.min(Date.parse(props.xStart) / 1000, first) : first;
            const hi = props.xEnd ? Math.max(Date.parse(props.xEnd) / 1000, last) : last;
            // a single point (or none) still gets an axis of a bucket either side
            return hi > lo ? [lo, hi] : [lo - (step ?? 60), hi + (step ?? 60)];
          },
        },
        y: {
          range: (_u, _min, max) =>
            props.yMax !== undefined && !(max > props.yMax) ? [0, props.yMax] : [0, max > 0 ? max * 1.1 : 1],
        },
      },
      axes: [
        { stroke: "#555", grid: { stroke: "#eee" }, incrs: tickIncrements(step) },
        {
          stroke: "#555",
          grid: { stroke: "#eee" },
          label: props.yLabel,
          size: 60,
          ...(props.yFormat ? { values: (_u: uPlot, ticks: number[]) => ticks.map((t) => props.yFormat!(t)) } : {}),
        },
      ],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          dash: s.dash,
          spanGaps: false,
          points: { show: xs.length <= 60, size: 5 },
          ...(s.helper ? { legend: false } : {}),
        })),
      ],
    };
    const chart = new uPlot(options, data, el);
    for (const [index, s] of props.series.entries()) {
      if (s.helper) chart.root.querySelectorAll(".u-legend .u-series")[index + 1]?.setAttribute("hidden", "");
    }
    const observer = new ResizeObserver(() => chart.setSize({ width: Math.max(200, el.clientWidth), height: props.height ?? 220 }));
    observer.observe(el);
    el.dataset.drawn = "true";
    return () => {
      observer.disconnect();
      chart.destroy();
      delete el.dataset.drawn;
    };
  }, [props.x, props.xStart, props.xEnd, props.series, props.zone, props.step]);
  return <div class="chart" ref={host} role="img" aria-label={props.label} data-chart={props.id} />;
}
