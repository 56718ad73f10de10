// Template Insights: active users, latency, app & IDE usage, activity by user and parameters usage of one
// template or of every template of an organization.
import { useMemo } from "preact/hooks";
import { Bar } from "../components/Bar";
import { FilterBar, Select, ZoneField, RangeFields } from "../components/Controls";
import { ErrorBox, Panel } from "../components/Panel";
import { type Column, Table } from "../components/Table";
import { type ChartSeries, TimeChart } from "../components/TimeChart";
import { useOrganizations } from "../lib/entities";
import { usePanelQuery } from "../lib/query";
import { INSIGHTS_PRESETS, presetOptions, rangeInstants, resolveRange } from "../lib/ranges";
import { useUrlState } from "../lib/router";
import { browserZone, hmm, instantLabel, integer, ms, percent } from "../lib/time";

const defaults = { org: "", template: "", range: "7d", from: "", to: "", interval: "", tz: browserZone() };

const ARGS = `$org: ID!, $start: DateTime!, $end: DateTime!, $templateIds: [ID!], $interval: InsightsInterval, $tz: String!`;
const CALL = `templateInsights(organizationId: $org, start: $start, end: $end, templateIds: $templateIds, interval: $interval, timezone: $tz)`;
const q = (name: string, fields: string) => `query ${name}(${ARGS}) { ${CALL} { ${fields} } }`;

const ACTIVE_QUERY = q("InsightsActiveUsers", "interval activeUsers activeUsersSeries { start end activeUsers complete }");
const LATENCY_QUERY = q("InsightsLatency", "userLatency { user { id username name } p50 { ms band } p95 { ms band } samples }");
const APPS_QUERY = q("InsightsAppUsage", "appUsage { slug displayName kind category seconds users timesUsed }");
const USERS_QUERY = q("InsightsUserActivity", "userActivity { user { id username name } seconds }");
const PARAMETERS_QUERY = q("InsightsParameters", "parameters { name displayName type values { value count } }");
const TEMPLATES = `query OrganizationTemplates($id: ID!) { organization(id: $id) { templates { id name displayName } } }`;

type Insights<T> = { templateInsights: T };
interface Series {
  interval: string;
  activeUsers: number;
  activeUsersSeries: { start: string; end: string; activeUsers: number; complete: boolean }[];
}
interface Latency {
  user: { id: string; username: string; name: string };
  p50: { ms: number; band: string };
  p95: { ms: number; band: string };
  samples: number;
}
interface App {
  slug: string;
  displayName: string;
  kind: string;
  category: string;
  seconds: number;
  users: number;
  timesUsed: number;
}
interface UserUsage {
  user: { id: string; username: string; name: string };
  seconds: number;
}
interface Parameter {
  name: string;
  displayName: string;
  type: string;
  values: { value: string; count: number }[];
}

export function InsightsPage() {
  const [state, update] = useUrlState(defaults);
  const orgs = useOrganizations();
  const orgList = orgs.status === "ok" ? orgs.data.organizations : [];
  const org = state.org || orgList[0]?.id || "";
  const templates = usePanelQuery<{ organization: { templates: { id: string; name: string; displayName: string }[] } | null }>(
    TEMPLATES,
    org ? { id: org } : null,
    "organization",
  );
  const templateList = templates.status === "ok" ? templates.data.organization?.templates ?? [] : [];
  const range = resolveRange(INSIGHTS_PRESETS, state.range, state.tz, state.from, state.to);
  const { start, end } = rangeInstants(range, state.tz);
  const variables = org
    ? {
        org,
        start,
        end,
        templateIds: state.template ? [state.template] : null,
        interval: state.interval || null,
        tz: state.tz,
      }
    : null;

  // The headline panel asks first: with insights disabled or not allowed, nothing else is asked.
  const active = usePanelQuery<Insights<Series>>(ACTIVE_QUERY, variables, "templateInsights");
  const go = active.status === "ok" ? variables : null;

  const filters = (
    <FilterBar label="Template Insights filters">
      <Select
        label="Organization"
        name="org"
        value={org}
        options={orgList.map((o) => ({ value: o.id, label: o.name }))}
        onChange={(value) => update({ org: value, template: "" })}
      />
      <Select
        label="Template"
        name="template"
        value={state.template}
        options={[{ value: "", label: "All templates" }, ...templateList.map((t) => ({ value: t.id, label: t.displayName || t.name }))]}
        onChange={(template) => update({ template })}
      />
      <RangeFields value={state.range} options={presetOptions(INSIGHTS_PRESETS)} from={range.from} to={range.to} update={update} />
      <Select
        label="Interval"
        name="interval"
        value={state.interval}
        options={[
          { value: "", label: active.status === "ok" && !state.interval ? `Default (${active.data.templateInsights.interval === "DAY" ? "day" : "week"})` : "Default" },
          { value: "DAY", label: "Day" },
          { value: "WEEK", label: "Week" },
        ]}
        onChange={(interval) => update({ interval })}
      />
      <ZoneField value={state.tz} onCommit={(tz) => update({ tz })} />
    </FilterBar>
  );

  if (active.status === "error" && active.error.code === "INSIGHTS_DISABLED") {
    return (
      <>
        <h1>Template Insights</h1>
        <section class="panel wide" data-panel="insights-disabled" data-state="disabled">
          <h2>Template Insights are disabled on this server</h2>
          <p>
            The server runs with <code>--disable-template-insights</code> (or <code>USAGEGRAPH_DISABLE_TEMPLATE_INSIGHTS=true</code>
            ): latency samples and workspace parameter values are not stored, so there is nothing to show here. The server said:{" "}
            <em>{active.error.message}</em>.
          </p>
        </section>
      </>
    );
  }

  return (
    <>
      <h1>Template Insights</h1>
      {filters}
      {orgs.status === "ok" && orgList.length === 0 && (
        <section class="panel wide">
          <p>This token sees no organization.</p>
        </section>
      )}
      {active.status === "error" && active.error.code === "FORBIDDEN" ? (
        <section class="panel wide" data-panel="insights-forbidden">
          <ErrorBox error={active.error} permission="insights:read in the organization, or an insights grant on the template" />
        </section>
      ) : (
        <div class="grid">
          <ActiveUsersPanel state={active} zone={state.tz} />
          <LatencyPanel variables={go} />
          <AppsPanel variables={go} />
          <UserActivityPanel variables={go} />
          <ParametersPanel variables={go} />
        </div>
      )}
    </>
  );
}

function ActiveUsersPanel({ state, zone }: { state: ReturnType<typeof usePanelQuery<Insights<Series>>>; zone: string }) {
  return (
    <Panel id="insights-active-users" title="Active users" state={state} wide isEmpty={(d) => d.templateInsights.activeUsers === 0}>
      {(d) => <ActiveUsersBody data={d.templateInsights} zone={zone} />}
    </Panel>
  );
}

function ActiveUsersBody({ data, zone }: { data: Series; zone: string }) {
  const points = data.activeUsersSeries;
  const x = useMemo(() => points.map((p) => p.start), [points]);
  const series = useMemo<ChartSeries[]>(() => {
    const partial = points.length > 0 && !points[points.length - 1].complete;
    const last = points.length - 1;
    const solid = points.map((p, i) => (partial && i === last ? null : p.activeUsers));
    const list: ChartSeries[] = [{ label: "Active users", values: solid, color: "#1f4e8c" }];
    if (partial) {
      list.push({
        label: "Partial bucket",
        values: points.map((p, i) => (i >= last - 1 ? p.activeUsers : null)),
        color: "#1f4e8c",
        dash: [6, 4],
      });
    }
    return list;
  }, [points]);
  const columns: Column<Series["activeUsersSeries"][number]>[] = [
    { key: "start", label: data.interval === "DAY" ? "Day" : "Week from", value: (p) => p.start, text: (p) => instantLabel(p.start, zone) },
    { key: "activeUsers", label: "Active users", value: (p) => p.activeUsers, numeric: true },
    { key: "complete", label: "Bucket", value: (p) => (p.complete ? "complete" : "partial"), sortable: false },
  ];
  return (
    <>
      <p class="headline">
        <span class="big" data-metric="active-users" data-value={data.activeUsers}>
          {integer(data.activeUsers)}
        </span>{" "}
        users active in the range, per {data.interval === "DAY" ? "day" : "week"} below
        {points.length > 0 && !points[points.length - 1].complete && " (the last bucket is cut short by the range: drawn dashed)"}.
      </p>
      <TimeChart id="insights-active-users" label="Active users per bucket" x={x} xEnd={points[points.length - 1]?.end} series={series} zone={zone} />
      <details>
        <summary>Data table</summary>
        <Table id="insights-active-users" label="Active users per bucket" columns={columns} rows={points} rowKey={(p) => p.start} sort={null} pageSize={1000} filename="template-active-users.csv" />
      </details>
    </>
  );
}

const BAND_LABEL: Record<string, string> = { GREEN: "good (< 150 ms)", YELLOW: "fair (150–300 ms)", RED: "poor (> 300 ms)" };

function LatencyCell({ latency }: { latency: { ms: number; band: string } }) {
  return (
    <span class={`band band-${latency.band.toLowerCase()}`} data-band={latency.band} title={BAND_LABEL[latency.band]}>
      <span class="dot" aria-hidden="true" />
      {ms(latency.ms)}
      <span class="sr-only"> {BAND_LABEL[latency.band]}</span>
    </span>
  );
}

function LatencyPanel({ variables }: { variables: Record<string, unknown> | null }) {
  const result = usePanelQuery<Insights<{ userLatency: Latency[] }>>(LATENCY_QUERY, variables, "templateInsights");
  const columns: Column<Latency>[] = [
    { key: "user", label: "User", value: (r) => r.user.username },
    { key: "p50", label: "p50", value: (r) => r.p50.ms, text: (r) => ms(r.p50.ms), render: (r) => <LatencyCell latency={r.p50} />, numeric: true },
    { key: "p95", label: "p95", value: (r) => r.p95.ms, text: (r) => ms(r.p95.ms), render: (r) => <LatencyCell latency={r.p95} />, numeric: true },
    { key: "samples", label: "Samples", value: (r) => r.samples, numeric: true },
  ];
  return (
    <Panel
      id="insights-latency"
      title="Latency by user"
      state={result}
      isEmpty={(d) => d.templateInsights.userLatency.length === 0}
      empty="No latency samples in this range."
    >
      {(d) => (
        <Table id="insights-latency" label="Latency by user" columns={columns} rows={d.templateInsights.userLatency} rowKey={(r) => r.user.id} sort={null} pageSize={10} filename="template-latency.csv" />
      )}
    </Panel>
  );
}

function AppsPanel({ variables }: { variables: Record<string, unknown> | null }) {
  const result = usePanelQuery<Insights<{ appUsage: App[] }>>(APPS_QUERY, variables, "templateInsights");
  return (
    <Panel id="insights-apps" title="App & IDE usage" state={result}>
      {(d) => {
        const apps = d.templateInsights.appUsage;
        const total = apps.reduce((sum, a) => sum + a.seconds, 0);
        const share = (a: App) => (total > 0 ? a.seconds / total : 0);
        const columns: Column<App>[] = [
          { key: "app", label: "App", value: (a) => a.displayName, render: (a) => <span title={a.slug}>{a.displayName}</span> },
          { key: "share", label: "Share", value: share, text: (a) => percent(share(a)), render: (a) => (
            <span class="bar-cell">
              <Bar share={share(a)} label={percent(share(a))} />
              {percent(share(a))}
            </span>
          ) },
          { key: "time", label: "Time", value: (a) => a.seconds, text: (a) => hmm(a.seconds), numeric: true },
          { key: "timesUsed", label: "Opened", value: (a) => a.timesUsed, numeric: true },
          { key: "users", label: "Users", value: (a) => a.users, numeric: true },
        ];
        return <Table id="insights-apps" label="App and IDE usage" columns={columns} rows={apps} rowKey={(a) => a.slug} sort={null} pageSize={20} filename="template-app-usage.csv" />;
      }}
    </Panel>
  );
}

function UserActivityPanel({ variables }: { variables: Record<string, unknown> | null }) {
  const result = usePanelQuery<Insights<{ userActivity: UserUsage[] }>>(USERS_QUERY, variables, "templateInsights");
  const columns: Column<UserUsage>[] = [
    { key: "user", label: "User", value: (r) => r.user.username },
    { key: "name", label: "Name", value: (r) => r.user.name },
    { key: "time", label: "Time", value: (r) => r.seconds, text: (r) => hmm(r.seconds), numeric: true },
  ];
  return (
    <Panel id="insights-user-activity" title="Activity by user" state={result} isEmpty={(d) => d.templateInsights.userActivity.length === 0}>
      {(d) => (
        <Table id="insights-user-activity" label="Activity by user" columns={columns} rows={d.templateInsights.userActivity} rowKey={(r) => r.user.id} sort={null} pageSize={10} filename="template-user-activity.csv" />
      )}
    </Panel>
  );
}

function ParametersPanel({ variables }: { variables: Record<string, unknown> | null }) {
  const result = usePanelQuery<Insights<{ parameters: Parameter[] }>>(PARAMETERS_QUERY, variables, "templateInsights");
  return (
    <Panel id="insights-parameters" title="Parameters usage" state={result} wide isEmpty={(d) => d.templateInsights.parameters.length === 0} empty="These templates have no parameters.">
      {(d) => (
        <div class="parameters">
          {d.templateInsights.parameters.map((p) => (
            <ParameterCard parameter={p} />
          ))}
        </div>
      )}
    </Panel>
  );
}

function ParameterCard({ parameter }: { parameter: Parameter }) {
  const total = parameter.values.reduce((sum, v) => sum + v.count, 0);
  const max = Math.max(1, ...parameter.values.map((v) => v.count));
  const columns: Column<Parameter["values"][number]>[] = [
    { key: "value", label: "Value", value: (v) => v.value },
    { key: "count", label: "Workspaces", value: (v) => v.count, numeric: true, render: (v) => (
      <span class="bar-cell">
        <Bar share={v.count / max} label={`${v.count} of ${total}`} />
        {integer(v.count)}
      </span>
    ) },
  ];
  return (
    <div class="parameter" data-parameter={parameter.name}>
      <h3>
        {parameter.displayName || parameter.name} <span class="muted">({parameter.name})</span>
      </h3>
      <Table id={`parameter-${parameter.name}`} label={`Parameter ${parameter.displayName || parameter.name}`} columns={columns} rows={parameter.values} rowKey={(v) => v.value} sort={null} pageSize={20} filename={`parameter-${parameter.name}.csv`} />
    </div>
  );
}
