// AI coding sessions: KPIs, sessions/cost/tokens over time, per agent, cost by model/project/user and
// per-user analytics of one organization. A member sees only their own sessions (scope SELF).
import type { ComponentChildren } from "preact";
import { useMemo } from "preact/hooks";
import { Bar } from "../components/Bar";
import { FilterBar, Select, TextField, ZoneField, RangeFields } from "../components/Controls";
import { Panel } from "../components/Panel";
import { type Column, Table } from "../components/Table";
import { TimeChart } from "../components/TimeChart";
import { useOrganizations } from "../lib/entities";
import { bucketLabel, colorOf, compact, duration, usd } from "../lib/format";
import { usePanelQuery } from "../lib/query";
import { ACTIVITY_PRESETS, presetOptions, rangeInstants, resolveRange } from "../lib/ranges";
import { useUrlState } from "../lib/router";
import { browserZone, instantLabel, integer, percent } from "../lib/time";

const defaults = {
  org: "",
  range: "30d",
  from: "",
  to: "",
  project: "",
  repo: "",
  agent: "",
  user: "",
  interval: "DAY",
  metric: "sessions",
  tz: browserZone(),
};
type State = typeof defaults;

const ARGS = `$org: ID!, $filter: SessionFilter`;
const q = (name: string, args: string, fields: string) =>
  `query ${name}(${ARGS}${args}) { organization(id: $org) { id sessionAnalytics(filter: $filter) { ${fields} } } }`;

const SUMMARY_QUERY = q(
  "SessionSummary",
  "",
  `scope summary { totalSessions totalCost totalTokens inputTokens outputTokens cacheReadTokens cacheWriteTokens
    averageDurationSeconds averageCostPerSession uniqueUsers unpricedSessions }`,
);
const TIMESERIES_QUERY = q(
  "SessionTimeseries",
  ", $interval: SessionInterval!, $tz: String!",
  "timeseries(interval: $interval, timezone: $tz) { start end sessions cost tokens }",
);
const AGENTS_QUERY = q("SessionsByAgent", "", "byAgent { agent sessions users totalCost averageCost averageDurationSeconds tokens }");
const COST_QUERY = q("SessionCost", ", $by: CostDimension!", "costBreakdown(by: $by) { key label cost share sessions tokens }");
const USERS_QUERY = q(
  "SessionUsers",
  ", $interval: SessionInterval!, $tz: String!",
  `users { user { id username name } sessions cost tokens averageDurationSeconds favoriteAgent agents { agent sessions }
    durationHistogram { le count } timeseries(interval: $interval, timezone: $tz) { start sessions } }`,
);
const OPTIONS_QUERY = q(
  "SessionFilterOptions",
  "",
  "byAgent { agent } costBreakdown(by: PROJECT) { key label } users { user { id username name } }",
);

type Analytics<T> = { organization: { id: string; sessionAnalytics: T } | null };
interface Summary {
  totalSessions: number;
  totalCost: string;
  totalTokens: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  averageDurationSeconds: number | null;
  averageCostPerSession: string | null;
  uniqueUsers: number;
  unpricedSessions: number;
}
interface Point {
  start: string;
  end: string;
  sessions: number;
  cost: string;
  tokens: number;
}
interface Agent {
  agent: string;
  sessions: number;
  users: number;
  totalCost: string;
  averageCost: string;
  averageDurationSeconds: number | null;
  tokens: number;
}
interface Slice {
  key: string;
  label: string;
  cost: string;
  share: number;
  sessions: number;
  tokens: number;
}
interface UserStats {
  user: { id: string; username: string; name: string };
  sessions: number;
  cost: string;
  tokens: number;
  averageDurationSeconds: number | null;
  favoriteAgent: string | null;
  agents: { agent: string; sessions: number }[];
  durationHistogram: { le: number | null; count: number }[];
  timeseries: { start: string; sessions: number }[];
}
interface Options {
  byAgent: { agent: string }[];
  costBreakdown: { key: string; label: string }[];
  users: { user: { id: string; username: string; name: string } }[];
}

const PERMISSION = "sessions:read:team (or sessions:read:own for your own sessions) in the organization";
const NO_SESSIONS = "No AI sessions in this range.";

export function SessionsPage() {
  const [state, update] = useUrlState(defaults);
  const orgs = useOrganizations();
  const orgList = orgs.status === "ok" ? orgs.data.organizations : [];
  const org = state.org || orgList[0]?.id || "";
  const range = resolveRange(ACTIVITY_PRESETS, state.range, state.tz, state.from, state.to);
  const { start, end } = rangeInstants(range, state.tz);
  const filter = {
    start,
    end,
    projectIds: state.project ? [state.project] : null,
    repositories: state.repo ? [state.repo] : null,
    agents: state.agent ? [state.agent] : null,
    userIds: state.user ? [state.user] : null,
  };
  const base = org ? { org, filter } : null;
  const series = base ? { ...base, interval: state.interval, tz: state.tz } : null;
  const summary = usePanelQuery<Analytics<{ scope: string; summary: Summary }>>(SUMMARY_QUERY, base, "organization");
  const options = usePanelQuery<Analytics<Options>>(OPTIONS_QUERY, org ? { org, filter: { start, end } } : null, "organization");
  const scope = summary.status === "ok" ? summary.data.organization?.sessionAnalytics.scope : undefined;
  const opts = options.status === "ok" ? options.data.organization?.sessionAnalytics : undefined;
  const agentNames = useMemo(() => (opts?.byAgent ?? []).map((a) => a.agent).sort(), [opts]);

  return (
    <>
      <h1>AI coding sessions</h1>
      <SessionFilters state={state} update={update} orgs={orgList} org={org} range={range} options={opts} scope={scope} />
      {scope && (
        <p class="scope" data-scope={scope}>
          {scope === "SELF" ? (
            <>
              Showing <strong>your sessions</strong>: this token sees its own AI sessions only.
            </>
          ) : (
            <>
              Showing the <strong>team's sessions</strong>: every member of the organization.
            </>
          )}
        </p>
      )}
      {orgs.status === "ok" && orgList.length === 0 && (
        <section class="panel wide">
          <p>This token sees no organization.</p>
        </section>
      )}
      <div class="grid">
        <SummaryPanel state={summary} />
        <TimeseriesPanel variables={series} zone={state.tz} state={state} update={update} />
        <AgentsPanel variables={base} agents={agentNames} />
        <CostPanel variables={base} by="MODEL" title="Cost by model" />
        <CostPanel variables={base} by="PROJECT" title="Cost by project" />
        <CostPanel variables={base} by="USER" title="Cost by user" />
        <UsersPanel variables={series} agents={agentNames} interval={state.interval} />
      </div>
    </>
  );
}

function SessionFilters(props: {
  state: State;
  update: (patch: Partial<State>) => void;
  orgs: { id: string; name: string }[];
  org: string;
  range: { from: string; to: string };
  options: Options | undefined;
  scope: string | undefined;
}) {
  const { state, update, range, options } = props;
  const keep = (list: { value: string; label: string }[], value: string, label: string) =>
    value && !list.some((o) => o.value === value) ? [...list, { value, label }] : list;
  const projects = keep(
    (options?.costBreakdown ?? []).filter((p) => p.key !== "").map((p) => ({ value: p.key, label: p.label })),
    state.project,
    state.project,
  );
  const agents = keep((options?.byAgent ?? []).map((a) => ({ value: a.agent, label: a.agent })), state.agent, state.agent);
  const users = keep(
    (options?.users ?? []).map((u) => ({ value: u.user.id, label: u.user.name ? `${u.user.username} (${u.user.name})` : u.user.username })),
    state.user,
    state.user,
  );
  return (
    <FilterBar label="AI sessions filters">
      <Select
        label="Organization"
        name="org"
        value={props.org}
        options={props.orgs.map((o) => ({ value: o.id, label: o.name }))}
        onChange={(org) => update({ org, project: "", user: "" })}
      />
      <RangeFields value={state.range} options={presetOptions(ACTIVITY_PRESETS)} from={range.from} to={range.to} update={update} />
      <Select label="Project" name="project" value={state.project} options={[{ value: "", label: "All projects" }, ...projects]} onChange={(project) => update({ project })} />
      <TextField label="Repository" name="repo" value={state.repo} size={22} onCommit={(repo) => update({ repo: repo.trim() })} />
      <Select label="Agent" name="agent" value={state.agent} options={[{ value: "", label: "All agents" }, ...agents]} onChange={(agent) => update({ agent })} />
      {props.scope !== "SELF" && (
        <Select label="User" name="user" value={state.user} options={[{ value: "", label: "All users" }, ...users]} onChange={(user) => update({ user })} />
      )}
      <ZoneField value={state.tz} onCommit={(tz) => update({ tz })} />
    </FilterBar>
  );
}

function Kpi(props: { id: string; label: string; value: string | number | null; text: string; children?: ComponentChildren }) {
  return (
    <div class="kpi" data-kpi={props.id} data-value={props.value === null ? "" : String(props.value)}>
      <div class="kpi-label">{props.label}</div>
      <div class="kpi-value">{props.text}</div>
      {props.children && <div class="kpi-note muted">{props.children}</div>}
    </div>
  );
}

function SummaryPanel({ state }: { state: ReturnType<typeof usePanelQuery<Analytics<{ scope: string; summary: Summary }>>> }) {
  return (
    <Panel
      id="session-summary"
      title="Summary"
      state={state}
      permission={PERMISSION}
      wide
      isEmpty={(d) => !d.organization || d.organization.sessionAnalytics.summary.totalSessions === 0}
      empty={NO_SESSIONS}
    >
      {(d) => {
        const s = d.organization!.sessionAnalytics.summary;
        const cache = s.cacheReadTokens + s.cacheWriteTokens;
        return (
          <>
            <div class="kpis">
              <Kpi id="totalSessions" label="Sessions" value={s.totalSessions} text={integer(s.totalSessions)} />
              <Kpi id="totalCost" label="Total cost" value={s.totalCost} text={usd(s.totalCost)} />
              <Kpi id="totalTokens" label="Tokens (input + output)" value={s.totalTokens} text={compact(s.totalTokens)}>
                <span title={`input ${integer(s.inputTokens)}, output ${integer(s.outputTokens)}, cache read ${integer(s.cacheReadTokens)}, cache write ${integer(s.cacheWriteTokens)}`} data-cache={cache}>
                  {compact(s.inputTokens)} in · {compact(s.outputTokens)} out · {compact(cache)} cache
                </span>
              </Kpi>
              <Kpi id="averageDurationSeconds" label="Average duration" value={s.averageDurationSeconds} text={duration(s.averageDurationSeconds)} />
              <Kpi id="averageCostPerSession" label="Average cost per session" value={s.averageCostPerSession} text={usd(s.averageCostPerSession)} />
              <Kpi id="uniqueUsers" label="Users" value={s.uniqueUsers} text={integer(s.uniqueUsers)} />
            </div>
            {s.unpricedSessions > 0 && (
              <p class="notice warning" data-kpi="unpricedSessions" data-value={s.unpricedSessions}>
                <strong>{integer(s.unpricedSessions)}</strong> session(s) used a model without a price: their cost counts as $0 for those
                lines (set prices with <code>USAGEGRAPH_PRICE_TABLE</code>).
              </p>
            )}
          </>
        );
      }}
    </Panel>
  );
}

const METRICS = [
  { value: "sessions", label: "Sessions" },
  { value: "cost", label: "Cost (USD)" },
  { value: "tokens", label: "Tokens" },
];

function TimeseriesPanel(props: {
  variables: Record<string, unknown> | null;
  zone: string;
  state: State;
  update: (patch: Partial<State>) => void;
}) {
  const { state, update } = props;
  const result = usePanelQuery<Analytics<{ timeseries: Point[] }>>(TIMESERIES_QUERY, props.variables, "organization");
  const controls = (
    <>
      <Select label="Show" name="metric" value={state.metric} options={METRICS} onChange={(metric) => update({ metric })} />
      <Select
        label="Per"
        name="interval"
        value={state.interval}
        options={[
          { value: "DAY", label: "Day" },
          { value: "WEEK", label: "Week" },
        ]}
        onChange={(interval) => update({ interval })}
      />
    </>
  );
  return (
    <Panel
      id="session-timeseries"
      title="Over time"
      state={result}
      permission={PERMISSION}
      controls={controls}
      wide
      isEmpty={(d) => !d.organization || d.organization.sessionAnalytics.timeseries.every((p) => p.sessions === 0)}
      empty={NO_SESSIONS}
    >
      {(d) => <TimeseriesBody points={d.organization!.sessionAnalytics.timeseries} metric={state.metric} interval={state.interval} zone={props.zone} />}
    </Panel>
  );
}

function TimeseriesBody({ points, metric, interval, zone }: { points: Point[]; metric: string; interval: string; zone: string }) {
  const x = useMemo(() => points.map((p) => p.start), [points]);
  const label = METRICS.find((m) => m.value === metric)?.label ?? "Sessions";
  const series = useMemo(
    () => [
      {
        label,
        values: points.map((p) => (metric === "cost" ? Number(p.cost) : metric === "tokens" ? p.tokens : p.sessions)),
        color: "#1f4e8c",
      },
    ],
    [points, metric],
  );
  const columns: Column<Point>[] = [
    { key: "start", label: interval === "WEEK" ? "Week from" : "Day", value: (p) => p.start, text: (p) => instantLabel(p.start, zone) },
    { key: "sessions", label: "Sessions", value: (p) => p.sessions, numeric: true },
    { key: "cost", label: "Cost (USD)", value: (p) => p.cost, text: (p) => p.cost, numeric: true },
    { key: "tokens", label: "Tokens", value: (p) => p.tokens, numeric: true },
  ];
  const yFormat = metric === "cost" ? (v: number) => usd(v) : metric === "tokens" ? compact : undefined;
  return (
    <>
      <TimeChart
        id="session-timeseries"
        label={`${label} per ${interval === "WEEK" ? "week" : "day"}`}
        x={x}
        xEnd={points[points.length - 1]?.end}
        series={series}
        zone={zone}
        step={interval === "WEEK" ? 7 * 86400 : 86400}
        yFormat={yFormat}
      />
      <details>
        <summary>Data table</summary>
        <Table id="session-timeseries" label="Sessions, cost and tokens per bucket" columns={columns} rows={points} rowKey={(p) => p.start} sort={null} pageSize={1000} filename="ai-sessions-over-time.csv" />
      </details>
    </>
  );
}

function AgentsPanel({ variables, agents }: { variables: Record<string, unknown> | null; agents: string[] }) {
  const result = usePanelQuery<Analytics<{ byAgent: Agent[] }>>(AGENTS_QUERY, variables, "organization");
  return (
    <Panel
      id="session-agents"
      title="By agent"
      state={result}
      permission={PERMISSION}
      wide
      isEmpty={(d) => !d.organization || d.organization.sessionAnalytics.byAgent.length === 0}
      empty={NO_SESSIONS}
    >
      {(d) => {
        const rows = d.organization!.sessionAnalytics.byAgent;
        const max = Math.max(1, ...rows.map((a) => a.sessions));
        const columns: Column<Agent>[] = [
          { key: "agent", label: "Agent", value: (a) => a.agent, render: (a) => <AgentName agent={a.agent} agents={agents} /> },
          {
            key: "sessions",
            label: "Sessions",
            value: (a) => a.sessions,
            numeric: true,
            render: (a) => (
              <span class="bar-cell">
                <Bar share={a.sessions / max} label={`${a.sessions} sessions`} />
                {integer(a.sessions)}
              </span>
            ),
          },
          { key: "users", label: "Users", value: (a) => a.users, numeric: true },
          { key: "averageCost", label: "Average cost", value: (a) => a.averageCost, text: (a) => usd(a.averageCost), numeric: true },
          { key: "averageDurationSeconds", label: "Average duration", value: (a) => a.averageDurationSeconds ?? -1, text: (a) => duration(a.averageDurationSeconds), numeric: true },
          { key: "tokens", label: "Tokens", value: (a) => a.tokens, text: (a) => integer(a.tokens), numeric: true },
          { key: "totalCost", label: "Total cost", value: (a) => a.totalCost, text: (a) => usd(a.totalCost), numeric: true },
        ];
        return <Table id="session-agents" label="AI sessions by agent" columns={columns} rows={rows} rowKey={(a) => a.agent} sort={null} pageSize={20} filename="ai-sessions-by-agent.csv" />;
      }}
    </Panel>
  );
}

function AgentName({ agent, agents }: { agent: string; agents: string[] }) {
  return (
    <span class="legend-item">
      <span class="swatch" style={{ background: colorOf(agent, agents) }} aria-hidden="true" />
      {agent}
    </span>
  );
}

function CostPanel({ variables, by, title }: { variables: Record<string, unknown> | null; by: string; title: string }) {
  const result = usePanelQuery<Analytics<{ costBreakdown: Slice[] }>>(COST_QUERY, variables ? { ...variables, by } : null, "organization");
  const id = `cost-${by.toLowerCase()}`;
  return (
    <Panel
      id={id}
      title={title}
      state={result}
      permission={PERMISSION}
      isEmpty={(d) => !d.organization || d.organization.sessionAnalytics.costBreakdown.length === 0}
      empty={NO_SESSIONS}
    >
      {(d) => {
        const rows = d.organization!.sessionAnalytics.costBreakdown;
        const columns: Column<Slice>[] = [
          { key: "label", label: by === "MODEL" ? "Model" : by === "PROJECT" ? "Project" : "User", value: (s) => s.label },
          {
            key: "share",
            label: "Share",
            value: (s) => s.share,
            text: (s) => percent(s.share),
            render: (s) => (
              <span class="bar-cell">
                <Bar share={s.share} label={percent(s.share)} />
                {percent(s.share)}
              </span>
            ),
          },
          { key: "cost", label: "Cost", value: (s) => s.cost, text: (s) => usd(s.cost), numeric: true },
          { key: "sessions", label: "Sessions", value: (s) => s.sessions, numeric: true },
          { key: "tokens", label: "Tokens", value: (s) => s.tokens, text: (s) => integer(s.tokens), numeric: true },
        ];
        return <Table id={id} label={title} columns={columns} rows={rows} rowKey={(s) => s.key} sort={null} pageSize={10} filename={`ai-${id}.csv`} />;
      }}
    </Panel>
  );
}

function UsersPanel({ variables, agents, interval }: { variables: Record<string, unknown> | null; agents: string[]; interval: string }) {
  const result = usePanelQuery<Analytics<{ users: UserStats[] }>>(USERS_QUERY, variables, "organization");
  return (
    <Panel
      id="session-users"
      title="Per user"
      state={result}
      permission={PERMISSION}
      wide
      isEmpty={(d) => !d.organization || d.organization.sessionAnalytics.users.length === 0}
      empty={NO_SESSIONS}
    >
      {(d) => {
        const rows = d.organization!.sessionAnalytics.users;
        const bounds = rows[0]?.durationHistogram.map((b) => b.le) ?? [];
        const histogramText = (u: UserStats) => u.durationHistogram.map((b, i) => `${bucketLabel(b.le, i ? bounds[i - 1] : null)}: ${b.count}`).join("; ");
        const sharesText = (u: UserStats) => u.agents.map((a) => `${a.agent} ${percent(u.sessions ? a.sessions / u.sessions : 0)}`).join("; ");
        const columns: Column<UserStats>[] = [
          { key: "user", label: "User", value: (u) => u.user.username, render: (u) => <span title={u.user.name}>{u.user.username}</span> },
          { key: "sessions", label: "Sessions", value: (u) => u.sessions, numeric: true },
          {
            key: "overTime",
            label: `Sessions per ${interval === "WEEK" ? "week" : "day"}`,
            value: (u) => u.timeseries.map((p) => p.sessions).join(" "),
            sortable: false,
            render: (u) => <Sparkline values={u.timeseries.map((p) => p.sessions)} label={`${u.user.username}: sessions per ${interval === "WEEK" ? "week" : "day"}`} />,
          },
          { key: "cost", label: "Cost", value: (u) => u.cost, text: (u) => usd(u.cost), numeric: true },
          { key: "tokens", label: "Tokens", value: (u) => u.tokens, text: (u) => compact(u.tokens), numeric: true },
          { key: "averageDurationSeconds", label: "Average duration", value: (u) => u.averageDurationSeconds ?? -1, text: (u) => duration(u.averageDurationSeconds), numeric: true },
          { key: "agents", label: "Agent preference", value: sharesText, sortable: false, render: (u) => <AgentShares user={u} agents={agents} /> },
          { key: "durations", label: "Session durations", value: histogramText, sortable: false, render: (u) => <Histogram user={u} bounds={bounds} /> },
        ];
        return <Table id="session-users" label="AI sessions per user" columns={columns} rows={rows} rowKey={(u) => u.user.id} sort={null} pageSize={25} filename="ai-sessions-per-user.csv" />;
      }}
    </Panel>
  );
}

/** A small inline line chart of one user's sessions per bucket. */
function Sparkline({ values, label }: { values: number[]; label: string }) {
  const w = 120;
  const h = 26;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`).join(" ");
  return (
    <svg class="spark" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`${label}, at most ${max}`} data-points={values.join(",")}>
      <polyline points={points} fill="none" stroke="#1f4e8c" stroke-width="1.5" />
    </svg>
  );
}

/** One bar split by agent: each agent's share of the user's sessions. */
function AgentShares({ user, agents }: { user: UserStats; agents: string[] }) {
  const total = user.sessions || 1;
  return (
    <span class="shares">
      <span class="stack" role="presentation">
        {user.agents.map((a) => (
          <span style={{ width: `${(a.sessions / total) * 100}%`, background: colorOf(a.agent, agents) }} title={`${a.agent}: ${percent(a.sessions / total)}`} />
        ))}
      </span>
      <span class="share-list">
        {user.agents.map((a) => (
          <span class="share" data-agent={a.agent} data-sessions={a.sessions} data-share={a.sessions / total}>
            <span class="swatch" style={{ background: colorOf(a.agent, agents) }} aria-hidden="true" />
            {a.agent} {percent(a.sessions / total)}
          </span>
        ))}
      </span>
    </span>
  );
}

/** The user's sessions per duration bucket as small columns, with the counts for screen readers. */
function Histogram({ user, bounds }: { user: UserStats; bounds: (number | null)[] }) {
  const max = Math.max(1, ...user.durationHistogram.map((b) => b.count));
  return (
    <span class="histogram">
      {user.durationHistogram.map((b, i) => {
        const label = `${bucketLabel(b.le, i ? bounds[i - 1] : null)}: ${b.count}`;
        return (
          <span class="hist-bar" data-le={b.le === null ? "" : b.le} data-count={b.count} title={label}>
            <span style={{ height: `${(b.count / max) * 100}%` }} />
            <span class="sr-only">{label}</span>
          </span>
        );
      })}
    </span>
  );
}
