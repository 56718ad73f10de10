// Compute: node and workspace CPU and memory utilization of one organization's workspaces, and the
// control plane's own charts (log events, status codes, latency) from the Prometheus that scrapes it.
import { useMemo } from "preact/hooks";
import { FilterBar, Select, ZoneField, RangeFields } from "../components/Controls";
import { ErrorBox, Panel } from "../components/Panel";
import { type Column, Table } from "../components/Table";
import { type ChartSeries, TimeChart } from "../components/TimeChart";
import { useOrganizations } from "../lib/entities";
import { colorOf, ratio } from "../lib/format";
import { usePanelQuery } from "../lib/query";
import { addDays, browserZone, instantLabel, integer, localMidnight, today } from "../lib/time";
import { useUrlState } from "../lib/router";
import type { Option } from "../components/Controls";

const defaults = { org: "", range: "7d", from: "", to: "", interval: "", tz: browserZone() };
type State = typeof defaults;

const HOUR = 3600;
const PROMETHEUS_LAG_MS = 5000;
const DAY = 86400;
/** Presets: the last hours up to the current minute, or whole local days up to today. */
const RANGES: { value: string; label: string; hours?: number; days?: number }[] = [
  { value: "1h", label: "Last hour", hours: 1 },
  { value: "6h", label: "Last 6 hours", hours: 6 },
  { value: "24h", label: "Last 24 hours", hours: 24 },
  { value: "7d", label: "Last 7 days", days: 7 },
  { value: "14d", label: "Last 14 days", days: 14 },
  { value: "30d", label: "Last 30 days", days: 30 },
];
const INTERVALS: Option[] = [
  { value: "5 minutes", label: "5 minutes" },
  { value: "15 minutes", label: "15 minutes" },
  { value: "1 hour", label: "1 hour" },
  { value: "6 hours", label: "6 hours" },
  { value: "1 day", label: "1 day" },
];
/** The busiest workspaces (by CPU p95) drawn over time; the table lists every one. */
const DRAWN_WORKSPACES = 6;

function minuteNow(): number {
  return Math.floor(Date.now() / 60_000) * 60_000;
}

/** The instants of the chosen range, and the days shown in the custom pickers. */
function resolve(state: State): { start: string; end: string; from: string; to: string } {
  const zone = state.tz;
  const preset = RANGES.find((r) => r.value === state.range);
  const iso = (ms: number) => new Date(ms).toISOString().replace(".000Z", "Z");
  const t = today(zone);
  if (preset?.hours) {
    const end = minuteNow();
    return { start: iso(end - preset.hours * HOUR * 1000), end: iso(end), from: t, to: t };
  }
  let from = addDays(t, -((preset?.days ?? 7) - 1));
  let to = t;
  if (!preset && state.from && state.to) [from, to] = state.from <= state.to ? [state.from, state.to] : [state.to, state.from];
  return { start: localMidnight(from, zone), end: localMidnight(addDays(to, 1), zone), from, to };
}

/** The interval when none is chosen: a few hundred buckets at most (samples come about hourly). */
function autoInterval(seconds: number): string {
  if (seconds <= 6 * HOUR) return "5 minutes";
  if (seconds <= 8 * DAY) return "1 hour";
  if (seconds <= 31 * DAY) return "6 hours";
  return "1 day";
}

const INTERVAL_SECONDS: Record<string, number> = { "5 minutes": 300, "15 minutes": 900, "1 hour": HOUR, "6 hours": 6 * HOUR, "1 day": DAY };

const STATS = "average p95 max";
const COMPUTE_QUERY = `query Compute($org: ID!, $start: DateTime!, $end: DateTime!, $interval: Interval!, $tz: String!) {
  organization(id: $org) { id compute(start: $start, end: $end, interval: $interval, timezone: $tz) {
    nodes { node cpu { ${STATS} } memory { ${STATS} } series { start end cpu memory } }
    workspaces { workspace { id name } user { id username } node cpu { ${STATS} } memory { ${STATS} } samples }
  } }
}`;

function workspaceSeriesQuery(count: number): string {
  const ids = Array.from({ length: count }, (_, i) => `$w${i}: ID!`).join(", ");
  const fields = Array.from(
    { length: count },
    (_, i) => `w${i}: workspace(id: $w${i}) { id utilization(start: $start, end: $end, interval: $interval, timezone: $tz) { start end cpu memory } }`,
  ).join("\n  ");
  return `query WorkspaceUtilization($start: DateTime!, $end: DateTime!, $interval: Interval!, $tz: String!, ${ids}) {\n  ${fields}\n}`;
}

const CONTROL_PLANE_QUERY = `query ControlPlane($start: DateTime!, $end: DateTime!) {
  controlPlane { configured charts(start: $start, end: $end) {
    start end stepSeconds
    logEvents { label points { at value } }
    statusCodes { label points { at value } }
    latency { label points { at value } }
  } }
}`;

interface Stats {
  average: number;
  p95: number;
  max: number;
}
interface UPoint {
  start: string;
  end: string;
  cpu: number | null;
  memory: number | null;
}
interface NodeU {
  node: string;
  cpu: Stats;
  memory: Stats;
  series: UPoint[];
}
interface WorkspaceU {
  workspace: { id: string; name: string };
  user: { id: string; username: string };
  node: string | null;
  cpu: Stats;
  memory: Stats;
  samples: number;
}
type ComputeData = { organization: { id: string; compute: { nodes: NodeU[]; workspaces: WorkspaceU[] } } | null };
interface CpSeries {
  label: string;
  points: { at: string; value: number | null }[];
}
interface Charts {
  start: string;
  end: string;
  stepSeconds: number;
  logEvents: CpSeries[];
  statusCodes: CpSeries[];
  latency: CpSeries[];
}
type ControlPlaneData = { controlPlane: { configured: boolean; charts: Charts | null } | null };

const MONITORING = "monitoring:read";

export function ComputePage() {
  const [state, update] = useUrlState(defaults);
  const orgs = useOrganizations();
  const orgList = orgs.status === "ok" ? orgs.data.organizations : [];
  const org = state.org || orgList[0]?.id || "";
  // "Last hour" ends at the current minute: fixed while the filters stay (no request per render).
  const range = useMemo(() => resolve(state), [state.range, state.from, state.to, state.tz]);
  const seconds = (Date.parse(range.end) - Date.parse(range.start)) / 1000;
  const interval = state.interval || autoInterval(seconds);
  const variables = org ? { org, start: range.start, end: range.end, interval, tz: state.tz } : null;
  const compute = usePanelQuery<ComputeData>(COMPUTE_QUERY, variables, "organization");
  // Prometheus is asked up to a few seconds ago at most (its latest scrapes stored): a range ending at
  // midnight tonight would chart the future, and a range ending at the current minute would leave out
  // the last seconds.
  const planeRange = useMemo(() => {
    const recent = Math.floor(Date.now() / 1000) * 1000 - PROMETHEUS_LAG_MS;
    const end = RANGES.find((r) => r.value === state.range)?.hours ? recent : Math.min(Date.parse(range.end), recent);
    return end > Date.parse(range.start) ? { start: range.start, end: new Date(end).toISOString().replace(".000Z", "Z") } : null;
  }, [range]);

  return (
    <>
      <h1>Compute</h1>
      <FilterBar label="Compute filters">
        <Select
          label="Organization"
          name="org"
          value={org}
          options={orgList.map((o) => ({ value: o.id, label: o.name }))}
          onChange={(value) => update({ org: value })}
        />
        <RangeFields label="Range" value={state.range} options={[...RANGES.map((r) => ({ value: r.value, label: r.label })), { value: "custom", label: "Custom" }]} from={range.from} to={range.to} update={update} />
        <Select
          label="Interval"
          name="interval"
          value={state.interval}
          options={[{ value: "", label: `Auto (${autoInterval(seconds)})` }, ...INTERVALS]}
          onChange={(value) => update({ interval: value })}
        />
        <ZoneField value={state.tz} onCommit={(tz) => update({ tz })} />
      </FilterBar>
      {orgs.status === "ok" && orgList.length === 0 && (
        <section class="panel wide">
          <p>This token sees no organization.</p>
        </section>
      )}
      <p class="muted" data-range-start={range.start} data-range-end={range.end} data-interval={interval}>
        From {instantLabel(range.start, state.tz)} until {instantLabel(range.end, state.tz)} ({state.tz}), per {interval}.
      </p>
      <div class="grid">
        <NodesPanel state={compute} zone={state.tz} step={INTERVAL_SECONDS[interval]} />
        <WorkspacesPanel state={compute} zone={state.tz} variables={variables} step={INTERVAL_SECONDS[interval]} />
        <ControlPlanePanel range={planeRange} zone={state.tz} />
      </div>
    </>
  );
}

const computeOf = (d: ComputeData) => d.organization?.compute ?? { nodes: [], workspaces: [] };

function statColumns<R>(get: (row: R) => { cpu: Stats; memory: Stats }): Column<R>[] {
  const col = (kind: "cpu" | "memory", stat: keyof Stats, label: string): Column<R> => ({
    key: `${kind}-${stat}`,
    label,
    value: (r) => get(r)[kind][stat],
    text: (r) => ratio(get(r)[kind][stat]),
    numeric: true,
  });
  return [
    col("cpu", "average", "CPU avg"),
    col("cpu", "p95", "CPU p95"),
    col("cpu", "max", "CPU max"),
    col("memory", "average", "Memory avg"),
    col("memory", "p95", "Memory p95"),
    col("memory", "max", "Memory max"),
  ];
}

function NodesPanel({ state, zone, step }: { state: ReturnType<typeof usePanelQuery<ComputeData>>; zone: string; step?: number }) {
  return (
    <Panel
      id="compute-nodes"
      title="Nodes: CPU and memory utilization"
      state={state}
      permission={MONITORING}
      wide
      isEmpty={(d) => computeOf(d).nodes.length === 0}
      empty="No node samples in this range."
    >
      {(d) => <NodesBody nodes={computeOf(d).nodes} zone={zone} step={step} />}
    </Panel>
  );
}

function NodesBody({ nodes, zone, step }: { nodes: NodeU[]; zone: string; step?: number }) {
  const names = nodes.map((n) => n.node);
  const x = useMemo(() => nodes[0]?.series.map((p) => p.start) ?? [], [nodes]);
  const seriesOf = (kind: "cpu" | "memory") => nodes.map((n) => ({ label: n.node, values: n.series.map((p) => p[kind]), color: colorOf(n.node, names) }));
  const cpu = useMemo(() => seriesOf("cpu"), [nodes]);
  const memory = useMemo(() => seriesOf("memory"), [nodes]);
  const xEnd = nodes[0]?.series[nodes[0].series.length - 1]?.end;
  const columns: Column<NodeU>[] = [{ key: "node", label: "Node", value: (n) => n.node }, ...statColumns<NodeU>((n) => n)];
  return (
    <>
      <div class="charts">
        <div>
          <h3>CPU (used / capacity)</h3>
          <TimeChart id="node-cpu" label="Node CPU utilization, one line per node" x={x} xEnd={xEnd} series={cpu} zone={zone} step={step} yFormat={ratio} yMax={1} />
        </div>
        <div>
          <h3>Memory (used / capacity)</h3>
          <TimeChart id="node-memory" label="Node memory utilization, one line per node" x={x} xEnd={xEnd} series={memory} zone={zone} step={step} yFormat={ratio} yMax={1} />
        </div>
      </div>
      <Table id="compute-nodes" label="Node utilization" columns={columns} rows={nodes} rowKey={(n) => n.node} sort={null} pageSize={25} filename="compute-nodes.csv" />
      <details>
        <summary>Data table (per bucket)</summary>
        <NodeBuckets nodes={nodes} zone={zone} />
      </details>
    </>
  );
}

interface NodeBucket {
  node: string;
  start: string;
  cpu: number | null;
  memory: number | null;
}

function NodeBuckets({ nodes, zone }: { nodes: NodeU[]; zone: string }) {
  const rows = useMemo(() => nodes.flatMap((n) => n.series.map((p) => ({ node: n.node, start: p.start, cpu: p.cpu, memory: p.memory }))), [nodes]);
  const columns: Column<NodeBucket>[] = [
    { key: "node", label: "Node", value: (r) => r.node },
    { key: "start", label: "Bucket", value: (r) => r.start, text: (r) => instantLabel(r.start, zone) },
    { key: "cpu", label: "CPU", value: (r) => r.cpu ?? "", text: (r) => (r.cpu === null ? "" : String(r.cpu)), numeric: true },
    { key: "memory", label: "Memory", value: (r) => r.memory ?? "", text: (r) => (r.memory === null ? "" : String(r.memory)), numeric: true },
  ];
  return <Table id="compute-node-buckets" label="Node utilization per bucket" columns={columns} rows={rows} rowKey={(r) => `${r.node} ${r.start}`} sort={null} pageSize={50} filename="compute-nodes-per-bucket.csv" />;
}

const wsLabel = (w: WorkspaceU) => `${w.user.username}/${w.workspace.name}`;

function WorkspacesPanel(props: {
  state: ReturnType<typeof usePanelQuery<ComputeData>>;
  zone: string;
  variables: { start: string; end: string; interval: string; tz: string } | null;
  step?: number;
}) {
  return (
    <Panel
      id="compute-workspaces"
      title="Workspaces: CPU and memory limit utilization"
      state={props.state}
      permission={MONITORING}
      wide
      isEmpty={(d) => computeOf(d).workspaces.length === 0}
      empty="No workspace samples in this range."
    >
      {(d) => <WorkspacesBody workspaces={computeOf(d).workspaces} zone={props.zone} variables={props.variables!} step={props.step} />}
    </Panel>
  );
}

type SeriesData = Record<string, { id: string; utilization: UPoint[] } | null>;

function WorkspacesBody(props: {
  workspaces: WorkspaceU[];
  zone: string;
  variables: { start: string; end: string; interval: string; tz: string };
  step?: number;
}) {
  const { workspaces, zone, variables } = props;
  const busiest = workspaces.slice(0, DRAWN_WORKSPACES);
  const seriesVariables = useMemo(() => {
    const vars: Record<string, unknown> = { start: variables.start, end: variables.end, interval: variables.interval, tz: variables.tz };
    busiest.forEach((w, i) => (vars[`w${i}`] = w.workspace.id));
    return vars;
  }, [workspaces, variables]);
  const seriesState = usePanelQuery<SeriesData>(workspaceSeriesQuery(busiest.length), busiest.length ? seriesVariables : null, "w0");
  const columns: Column<WorkspaceU>[] = [
    { key: "workspace", label: "Workspace", value: wsLabel },
    { key: "node", label: "Node", value: (w) => w.node ?? "" },
    ...statColumns<WorkspaceU>((w) => w),
    { key: "samples", label: "Samples", value: (w) => w.samples, numeric: true },
  ];
  return (
    <>
      <p class="muted">
        The {busiest.length} busiest of {integer(workspaces.length)} workspaces (by CPU p95) over time; every workspace is in the table below.
      </p>
      <WorkspaceCharts state={seriesState} busiest={busiest} zone={zone} step={props.step} />
      <Table
        id="compute-workspaces"
        label="Workspace utilization, by CPU p95"
        columns={columns}
        rows={workspaces}
        rowKey={(w) => w.workspace.id}
        sort={{ key: "cpu-p95", desc: true }}
        pageSize={25}
        filename="compute-workspaces.csv"
      />
    </>
  );
}

function WorkspaceCharts(props: { state: ReturnType<typeof usePanelQuery<SeriesData>>; busiest: WorkspaceU[]; zone: string; step?: number }) {
  const { state, busiest, zone } = props;
  const labels = busiest.map(wsLabel);
  const data = state.status === "ok" ? state.data : null;
  const x = useMemo(() => data?.w0?.utilization.map((p) => p.start) ?? [], [data]);
  const seriesOf = (kind: "cpu" | "memory"): ChartSeries[] =>
    busiest.map((_w, i) => ({ label: labels[i], values: data?.[`w${i}`]?.utilization.map((p) => p[kind]) ?? [], color: colorOf(labels[i], labels) }));
  const cpu = useMemo(() => seriesOf("cpu"), [data]);
  const memory = useMemo(() => seriesOf("memory"), [data]);
  if (state.status === "loading") return <div class="loading" role="status">Loading…</div>;
  if (state.status === "error") return <ErrorBox error={state.error} permission={MONITORING} />;
  if (!data) return null;
  const utilization = data.w0?.utilization ?? [];
  const xEnd = utilization[utilization.length - 1]?.end;
  return (
    <div class="charts" data-workspace-charts={busiest.map((w) => w.workspace.id).join(",")}>
      <div>
        <h3>CPU (used / limit)</h3>
        <TimeChart id="workspace-cpu" label="CPU limit utilization of the busiest workspaces" x={x} xEnd={xEnd} series={cpu} zone={zone} step={props.step} yFormat={ratio} yMax={1} />
      </div>
      <div>
        <h3>Memory (used / limit)</h3>
        <TimeChart id="workspace-memory" label="Memory limit utilization of the busiest workspaces" x={x} xEnd={xEnd} series={memory} zone={zone} step={props.step} yFormat={ratio} yMax={1} />
      </div>
    </div>
  );
}

// --- Control plane ---------------------------------------------------------------------------------

const SEVERITY_COLORS: Record<string, string> = { critical: "#7d0b12", error: "#cf222e", warning: "#d4a72c", info: "#1f4e8c", debug: "#8c959f" };
const LATENCY_COLORS: Record<string, string> = { p50: "#1f4e8c", p95: "#e69f00", p99: "#cf222e" };

function statusColor(label: string, labels: string[]): string {
  const same = labels.filter((l) => l[0] === label[0]);
  const shades: Record<string, string[]> = {
    "2": ["#1a7f37", "#2da44e", "#4ac26b"],
    "3": ["#56b4e9", "#1f4e8c"],
    "4": ["#d4a72c", "#e69f00", "#bc4c00", "#9a6700"],
    "5": ["#cf222e", "#7d0b12", "#ff8182"],
  };
  const list = shades[label[0]] ?? ["#555555", "#8c959f"];
  return list[same.indexOf(label) % list.length];
}

function ControlPlanePanel({ range, zone }: { range: { start: string; end: string } | null; zone: string }) {
  const result = usePanelQuery<ControlPlaneData>(CONTROL_PLANE_QUERY, range, "controlPlane");
  const notConfigured = result.status === "ok" && result.data.controlPlane?.configured === false;
  return (
    <Panel
      id="control-plane"
      title="Control plane"
      state={result}
      permission={`${MONITORING} (site-wide)`}
      wide
      isEmpty={(d) => !d.controlPlane?.charts}
      empty={notConfigured ? <SetupHint /> : "Nothing to chart in this range."}
    >
      {(d) => <ControlPlaneCharts charts={d.controlPlane!.charts!} zone={zone} />}
    </Panel>
  );
}

function SetupHint() {
  return (
    <div class="notice info setup" data-state="not-configured" style={{ textAlign: "left", color: "var(--fg)" }}>
      <p>
        <strong>The control-plane charts need a Prometheus.</strong> Point this server at the Prometheus that scrapes its <code>/metrics</code>, and the
        log events by severity, the HTTP status codes and the latency quantiles of the chosen range are drawn here:
      </p>
      <pre class="setup">
        <code>{"USAGEGRAPH_PROMETHEUS_URL=http://prometheus:9090\nUSAGEGRAPH_PROMETHEUS_JOB=usagegraph   # the scrape job's name, when Prometheus scrapes other jobs"}</code>
      </pre>
      <p>
        Then restart the server. <code>docs/monitoring.md</code> shows the scrape configuration and the recording and alerting rules of{" "}
        <code>deploy/prometheus/rules.yml</code>; the charts need the <code>monitoring:read</code> permission (site-wide).
      </p>
    </div>
  );
}

function ControlPlaneCharts({ charts, zone }: { charts: Charts; zone: string }) {
  return (
    <>
      <p class="muted" data-step={charts.stepSeconds} data-start={charts.start} data-end={charts.end}>
        One point every {integer(charts.stepSeconds)} s, from the Prometheus this server is configured with.
      </p>
      <div class="charts">
        <PlaneChart id="cp-log-events" title="Log events by severity (per second)" series={charts.logEvents} color={(l) => SEVERITY_COLORS[l] ?? "#555"} zone={zone} step={charts.stepSeconds} start={charts.start} end={charts.end} />
        <PlaneChart id="cp-status-codes" title="HTTP status codes (responses per second)" series={charts.statusCodes} color={statusColor} zone={zone} step={charts.stepSeconds} start={charts.start} end={charts.end} />
        <PlaneChart id="cp-latency" title="HTTP latency (seconds)" series={charts.latency} color={(l) => LATENCY_COLORS[l] ?? "#555"} zone={zone} step={charts.stepSeconds} start={charts.start} end={charts.end} />
      </div>
    </>
  );
}

interface PlaneRow {
  at: string;
  values: Record<string, number | null>;
}

function PlaneChart(props: {
  id: string;
  title: string;
  series: CpSeries[];
  color: (label: string, labels: string[]) => string;
  zone: string;
  step: number;
  start: string;
  end: string;
}) {
  const { series, zone } = props;
  const labels = series.map((s) => s.label);
  const rows = useMemo<PlaneRow[]>(() => {
    const byAt = new Map<string, Record<string, number | null>>();
    for (const s of series) {
      for (const p of s.points) {
        const row = byAt.get(p.at) ?? {};
        row[s.label] = p.value;
        byAt.set(p.at, row);
      }
    }
    return [...byAt.keys()].sort((a, b) => Date.parse(a) - Date.parse(b)).map((at) => ({ at, values: byAt.get(at)! }));
  }, [series]);
  const x = useMemo(() => rows.map((r) => r.at), [rows]);
  const chartSeries = useMemo(
    () => series.map((s) => ({ label: s.label, values: rows.map((r) => (s.label in r.values ? r.values[s.label] : null)), color: props.color(s.label, labels) })),
    [rows],
  );
  const columns: Column<PlaneRow>[] = [
    { key: "at", label: "At", value: (r) => r.at, text: (r) => instantLabel(r.at, zone) },
    ...labels.map((label) => ({
      key: label,
      label,
      value: (r: PlaneRow) => r.values[label] ?? "",
      text: (r: PlaneRow) => (r.values[label] === undefined || r.values[label] === null ? "" : String(r.values[label])),
      numeric: true,
    })),
  ];
  return (
    <div data-plane-chart={props.id} data-series={labels.join(",")}>
      <h3>{props.title}</h3>
      {rows.length === 0 ? (
        <div class="empty" data-state="empty">
          No data in this range.
        </div>
      ) : (
        <>
          <TimeChart id={props.id} label={props.title} x={x} xStart={props.start} xEnd={props.end} series={chartSeries} zone={zone} step={props.step} height={200} />
          <details>
            <summary>Data table</summary>
            <Table id={props.id} label={props.title} columns={columns} rows={rows} rowKey={(r) => r.at} sort={null} pageSize={100} filename={`${props.id}.csv`} />
          </details>
        </>
      )}
    </div>
  );
}
