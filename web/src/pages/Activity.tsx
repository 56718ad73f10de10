// Activity (the deployment "Metrics" page): active users per bucket, the users' totals, and DAU/WAU/MAU.
import { useMemo, useState } from "preact/hooks";
import { Select, FilterBar, TextField, ZoneField, RangeFields } from "../components/Controls";
import { Panel } from "../components/Panel";
import { type Column, Table } from "../components/Table";
import { TimeChart } from "../components/TimeChart";
import { ACTIONS, type Org, useOrganizations } from "../lib/entities";
import { usePanelQuery } from "../lib/query";
import { ACTIVITY_PRESETS, presetOptions, rangeInstants, resolveRange } from "../lib/ranges";
import { useUrlState } from "../lib/router";
import { browserZone, hmm, instantLabel, integer, localMidnight } from "../lib/time";

const INTERVALS = ["1 day", "1 week", "90 day", "1 year"];

const defaults = {
  org: "",
  action: "ANY",
  range: "30d",
  from: "",
  to: "",
  interval: "1 day",
  tz: browserZone(),
  dorg: "",
  dws: "",
  dperiod: "90",
  dwindow: "CALENDAR",
  dfill: "FORWARD",
  dcat: "LOGIN",
};
type State = typeof defaults;

const ARGS = `$start: DateTime!, $end: DateTime!, $interval: Interval!, $category: ActivityCategory!, $org: ID, $tz: String!`;
const CALL = `activity(start: $start, end: $end, interval: $interval, category: $category, organizationId: $org, timezone: $tz)`;

const CHART_QUERY = `query ActivityChart(${ARGS}) { ${CALL} { buckets { start end activeUsers } } }`;
const USERS_QUERY = `query ActivityUsers(${ARGS}) {
  ${CALL} { users { user { id username name roles(organizationId: $org) } totalDurationSeconds totalCount } }
}`;
const BUCKETS_QUERY = `query ActivityPerBucket(${ARGS}) {
  ${CALL} { buckets { start userActivity { user { id } durationSeconds count } } }
}`;

interface Bucket {
  start: string;
  end: string;
  activeUsers: number;
}
interface UserTotal {
  user: { id: string; username: string; name: string; roles: string[] };
  totalDurationSeconds: number;
  totalCount: number;
}
interface BucketUsers {
  start: string;
  userActivity: { user: { id: string }; durationSeconds: number; count: number }[];
}

export function ActivityPage() {
  const [state, update] = useUrlState(defaults);
  const orgs = useOrganizations();
  const orgList = orgs.status === "ok" ? orgs.data.organizations : [];
  const range = resolveRange(ACTIVITY_PRESETS, state.range, state.tz, state.from, state.to);
  const { start, end } = rangeInstants(range, state.tz);
  const variables = {
    start,
    end,
    interval: state.interval,
    category: state.action,
    org: state.org || null,
    tz: state.tz,
  };
  return (
    <>
      <h1>Activity</h1>
      <ActivityFilters state={state} update={update} orgs={orgList} range={range} />
      <ActiveUsersPanel variables={variables} zone={state.tz} />
      <UsersPanel variables={variables} zone={state.tz} org={state.org} />
      <UsageMetricsPanel state={state} update={update} orgs={orgList} />
    </>
  );
}

function ActivityFilters(props: {
  state: State;
  update: (patch: Partial<State>) => void;
  orgs: Org[];
  range: { from: string; to: string };
}) {
  const { state, update, range } = props;
  const listed = INTERVALS.includes(state.interval);
  const [customInterval, setCustomInterval] = useState(!listed);
  return (
    <FilterBar label="Activity filters">
      <Select
        label="Organization"
        name="org"
        value={state.org}
        options={[{ value: "", label: "Whole deployment" }, ...props.orgs.map((o) => ({ value: o.id, label: o.name }))]}
        onChange={(org) => update({ org })}
      />
      <Select label="Action" name="action" value={state.action} options={ACTIONS} onChange={(action) => update({ action })} />
      <RangeFields value={state.range} options={presetOptions(ACTIVITY_PRESETS)} from={range.from} to={range.to} update={update} />
      <Select
        label="Interval"
        name="interval-choice"
        value={customInterval ? "custom" : state.interval}
        options={[...INTERVALS.map((i) => ({ value: i, label: i })), { value: "custom", label: "Custom" }]}
        onChange={(value) => {
          if (value === "custom") setCustomInterval(true);
          else {
            setCustomInterval(false);
            update({ interval: value });
          }
        }}
      />
      {customInterval && (
        <TextField label="Custom interval" name="interval" value={state.interval} size={10} onCommit={(interval) => update({ interval })} />
      )}
      <ZoneField value={state.tz} onCommit={(tz) => update({ tz })} />
    </FilterBar>
  );
}

function ActiveUsersPanel({ variables, zone }: { variables: Record<string, unknown>; zone: string }) {
  const result = usePanelQuery<{ activity: { buckets: Bucket[] } }>(CHART_QUERY, variables, "activity");
  return (
    <Panel
      id="active-users"
      title="Active users"
      state={result}
      permission="activity:read (site-wide for the whole deployment)"
      isEmpty={(d) => d.activity.buckets.every((b) => b.activeUsers === 0)}
    >
      {(d) => <ActiveUsersChart buckets={d.activity.buckets} zone={zone} />}
    </Panel>
  );
}

function ActiveUsersChart({ buckets, zone }: { buckets: Bucket[]; zone: string }) {
  const x = useMemo(() => buckets.map((b) => b.start), [buckets]);
  const series = useMemo(() => [{ label: "Active users", values: buckets.map((b) => b.activeUsers), color: "#1f4e8c" }], [buckets]);
  const columns: Column<Bucket>[] = [
    { key: "start", label: "Bucket", value: (b) => b.start, text: (b) => instantLabel(b.start, zone) },
    { key: "activeUsers", label: "Active users", value: (b) => b.activeUsers, numeric: true },
  ];
  return (
    <>
      <TimeChart id="active-users" label="Active users per bucket" x={x} xEnd={buckets[buckets.length - 1]?.end} series={series} zone={zone} />
      <details>
        <summary>Data table</summary>
        <Table id="active-users" label="Active users per bucket" columns={columns} rows={buckets} rowKey={(b) => b.start} sort={null} pageSize={1000} filename="active-users.csv" />
      </details>
    </>
  );
}

function UsersPanel({ variables, zone, org }: { variables: Record<string, unknown>; zone: string; org: string }) {
  const result = usePanelQuery<{ activity: { users: UserTotal[] } }>(USERS_QUERY, variables, "activity");
  const [wantBuckets, setWantBuckets] = useState<string | null>(null);
  const key = JSON.stringify(variables);
  const perBucket = usePanelQuery<{ activity: { buckets: BucketUsers[] } }>(
    BUCKETS_QUERY,
    wantBuckets === key ? variables : null,
    "activity",
  );
  const columns: Column<UserTotal>[] = [
    { key: "name", label: "Name", value: (u) => u.user.name },
    { key: "username", label: "Username", value: (u) => u.user.username },
    { key: "roles", label: org ? "Roles (organization)" : "Roles (site-wide)", value: (u) => u.user.roles.join(", "), sortable: false },
    { key: "time", label: "Active time", value: (u) => u.totalDurationSeconds, text: (u) => hmm(u.totalDurationSeconds), numeric: true },
    { key: "count", label: "Count", value: (u) => u.totalCount, numeric: true },
  ];
  return (
    <Panel id="users" title="Users" state={result} permission="activity:read (site-wide for the whole deployment)" isEmpty={(d) => d.activity.users.length === 0} wide>
      {(d) => (
        <Table
          id="users"
          label="Users by active time"
          columns={columns}
          rows={d.activity.users}
          rowKey={(u) => u.user.id}
          sort={null}
          filename="activity-users.csv"
          expandLabel="Activity per bucket"
          onExpand={() => setWantBuckets(key)}
          expand={(u) => {
            if (perBucket.status === "error") return <span class="muted">{perBucket.error.message}</span>;
            if (perBucket.status !== "ok") return <span class="muted">Loading…</span>;
            return <UserBuckets buckets={perBucket.data.activity.buckets} userId={u.user.id} zone={zone} />;
          }}
        />
      )}
    </Panel>
  );
}

function UserBuckets({ buckets, userId, zone }: { buckets: BucketUsers[]; userId: string; zone: string }) {
  const rows = buckets.map((b) => {
    const mine = b.userActivity.find((a) => a.user.id === userId);
    return { start: b.start, seconds: mine?.durationSeconds ?? 0, count: mine?.count ?? 0 };
  });
  return (
    <table class="inner" aria-label="Activity per bucket" data-user-buckets={userId}>
      <thead>
        <tr>
          <th scope="col">Bucket</th>
          <th scope="col" class="num">
            Active time
          </th>
          <th scope="col" class="num">
            Count
          </th>
        </tr>
      </thead>
      <tbody>
        {rows
          .filter((r) => r.count > 0)
          .map((r) => (
            <tr>
              <td>{instantLabel(r.start, zone)}</td>
              <td class="num" data-value={r.seconds}>
                {hmm(r.seconds)}
              </td>
              <td class="num">{integer(r.count)}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}

// --- DAU / WAU / MAU ---------------------------------------------------------------------------------

const METRIC_ARGS = `periodLength: $period, window: $window, fill: $fill, category: $category, timezone: $tz`;
const METRIC_VARS = `$period: Int!, $window: ActiveWindow!, $fill: FillPolicy!, $category: ActivityCategory!, $tz: String!`;
const ORG_METRICS = `query OrganizationUsageMetrics($id: ID!, ${METRIC_VARS}) {
  organization(id: $id) { usageMetrics(${METRIC_ARGS}) { date dau wau mau } }
}`;
const WORKSPACE_METRICS = `query WorkspaceUsageMetrics($id: ID!, ${METRIC_VARS}) {
  workspace(id: $id) { usageMetrics(${METRIC_ARGS}) { date dau wau mau } }
}`;
const WORKSPACES = `query OrganizationWorkspaces($id: ID!) {
  organization(id: $id) { workspaces(first: 500) { totalCount nodes { id name owner { username } } } }
}`;

interface Metric {
  date: string;
  dau: number | null;
  wau: number | null;
  mau: number | null;
}

function UsageMetricsPanel(props: { state: State; update: (patch: Partial<State>) => void; orgs: Org[] }) {
  const { state, update } = props;
  const orgId = state.org || state.dorg || props.orgs[0]?.id || "";
  const workspaces = usePanelQuery<{
    organization: { workspaces: { totalCount: number; nodes: { id: string; name: string; owner: { username: string } }[] } } | null;
  }>(WORKSPACES, orgId ? { id: orgId } : null, "organization");
  const period = Math.min(3660, Math.max(1, Number.parseInt(state.dperiod, 10) || 90));
  const base = { period, window: state.dwindow, fill: state.dfill, category: state.dcat, tz: state.tz };
  const query = state.dws ? WORKSPACE_METRICS : ORG_METRICS;
  const root = state.dws ? "workspace" : "organization";
  const result = usePanelQuery<{ organization?: { usageMetrics: Metric[] } | null; workspace?: { usageMetrics: Metric[] } | null }>(
    query,
    state.dws ? { id: state.dws, ...base } : orgId ? { id: orgId, ...base } : null,
    root,
  );
  const wsList = workspaces.status === "ok" ? workspaces.data.organization?.workspaces : undefined;
  const controls = (
    <>
      {!state.org && (
        <Select
          label="Organization"
          name="dorg"
          value={orgId}
          options={props.orgs.map((o) => ({ value: o.id, label: o.name }))}
          onChange={(dorg) => update({ dorg, dws: "" })}
        />
      )}
      <Select
        label="Workspace"
        name="dws"
        value={state.dws}
        options={[
          { value: "", label: "Whole organization" },
          ...(wsList?.nodes ?? []).map((w) => ({ value: w.id, label: `${w.owner.username}/${w.name}` })),
        ]}
        onChange={(dws) => update({ dws })}
      />
      <TextField label="Period (days)" name="dperiod" type="number" min={1} max={3660} size={5} value={String(period)} valid={(v) => /^\d+$/.test(v) && +v >= 1 && +v <= 3660} onCommit={(dperiod) => update({ dperiod })} />
      <Select
        label="Window"
        name="dwindow"
        value={state.dwindow}
        options={[
          { value: "CALENDAR", label: "Calendar" },
          { value: "ROLLING", label: "Rolling" },
        ]}
        onChange={(dwindow) => update({ dwindow })}
      />
      <Select
        label="Fill"
        name="dfill"
        value={state.dfill}
        options={[
          { value: "FORWARD", label: "Forward" },
          { value: "NONE", label: "None" },
        ]}
        onChange={(dfill) => update({ dfill })}
      />
      <Select label="Counted by" name="dcat" value={state.dcat} options={ACTIONS} onChange={(dcat) => update({ dcat })} />
    </>
  );
  const metrics = (d: typeof result.data) => (d?.workspace ?? d?.organization)?.usageMetrics ?? [];
  return (
    <Panel
      id="usage-metrics"
      title="DAU / WAU / MAU"
      state={result}
      permission="workspace_metrics:read in the organization"
      controls={controls}
      isEmpty={(d) => metrics(d).every((m) => !m.dau && !m.wau && !m.mau)}
      wide
    >
      {(d) => (
        <>
          {wsList && wsList.totalCount > wsList.nodes.length && (
            <p class="muted">The workspace picker lists the first {wsList.nodes.length} of {wsList.totalCount} workspaces.</p>
          )}
          <UsageMetricsChart rows={metrics(d)} zone={state.tz} />
        </>
      )}
    </Panel>
  );
}

const dash = (v: number | null) => (v === null ? "" : String(v));

function UsageMetricsChart({ rows, zone }: { rows: Metric[]; zone: string }) {
  const x = useMemo(() => rows.map((r) => localMidnight(r.date, zone)), [rows, zone]);
  const series = useMemo(
    () => [
      { label: "DAU", values: rows.map((r) => r.dau), color: "#1f4e8c" },
      { label: "WAU", values: rows.map((r) => r.wau), color: "#c0622f" },
      { label: "MAU", values: rows.map((r) => r.mau), color: "#3d8b40" },
    ],
    [rows],
  );
  const gaps = rows.filter((r) => r.dau === null).length;
  const columns: Column<Metric>[] = [
    { key: "date", label: "Date", value: (r) => r.date },
    { key: "dau", label: "DAU", value: (r) => r.dau ?? -1, text: (r) => dash(r.dau), numeric: true },
    { key: "wau", label: "WAU", value: (r) => r.wau ?? -1, text: (r) => dash(r.wau), numeric: true },
    { key: "mau", label: "MAU", value: (r) => r.mau ?? -1, text: (r) => dash(r.mau), numeric: true },
  ];
  return (
    <>
      <TimeChart id="usage-metrics" label="Daily, weekly and monthly active users" x={x} series={series} zone={zone} />
      {gaps > 0 && <p class="muted">{gaps} day(s) without data are drawn as gaps.</p>}
      <details>
        <summary>Data table</summary>
        <Table id="usage-metrics" label="DAU, WAU and MAU per day" columns={columns} rows={rows} rowKey={(r) => r.date} sort={null} pageSize={1000} filename="usage-metrics.csv" />
      </details>
    </>
  );
}
