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
  /** End of the last bucket (RFC 3339): the x axis spans [first start, this]. */
  xEnd?: string;
  series: ChartSeries[];
  zone: string;
  height?: number;
  yLabel?: string;
}

/** A uPlot time-series chart sized to its container, axes in the page's time zone. */
export function TimeChart(props: TimeChartProps) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const xs = props.x.map((iso) => Date.parse(iso) / 1000);
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
          range: (_u, min, max) => (props.xEnd && xs.length ? [xs[0], Math.max(Date.parse(props.xEnd) / 1000, max)] : [min, max]),
        }, y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
      axes: [
        { stroke: "#555", grid: { stroke: "#eee" } },
        { stroke: "#555", grid: { stroke: "#eee" }, label: props.yLabel, size: 50 },
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
  }, [props.x, props.xEnd, props.series, props.zone]);
  return <div class="chart" ref={host} role="img" aria-label={props.label} data-chart={props.id} />;
}
