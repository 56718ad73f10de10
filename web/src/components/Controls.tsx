// Labelled form controls shared by every page's filter bar.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { allZones, isDate, isZone } from "../lib/time";

let nextId = 0;
function useId(prefix: string): string {
  const [id] = useState(() => `${prefix}-${++nextId}`);
  return id;
}

export interface Option {
  value: string;
  label: string;
}

export function Select(props: {
  label: string;
  value: string;
  options: Option[];
  onChange: (value: string) => void;
  name: string;
}) {
  const id = useId(props.name);
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select id={id} name={props.name} value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        {props.options.map((o) => (
          <option value={o.value} selected={o.value === props.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A text input that commits on Enter or when it loses focus (no request per keystroke). */
export function TextField(props: {
  label: string;
  value: string;
  name: string;
  onCommit: (value: string) => void;
  type?: string;
  list?: string;
  valid?: (value: string) => boolean;
  size?: number;
  min?: number;
  max?: number;
}) {
  const id = useId(props.name);
  const [draft, setDraft] = useState(props.value);
  useEffect(() => setDraft(props.value), [props.value]);
  const invalid = props.valid ? !props.valid(draft) : false;
  const commit = () => {
    if (!invalid && draft !== props.value) props.onCommit(draft);
  };
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type ?? "text"}
        value={draft}
        list={props.list}
        size={props.size}
        min={props.min}
        max={props.max}
        aria-invalid={invalid}
        onInput={(e) => setDraft(e.currentTarget.value)}
        onChange={commit}
        onKeyDown={(e) => {
          if (e.key === "Enter") commit();
        }}
      />
    </div>
  );
}

export function DateField(props: { label: string; value: string; name: string; onCommit: (value: string) => void }) {
  return <TextField {...props} type="date" valid={isDate} />;
}

const ZONES_LIST = "iana-zones";

/** Any IANA zone, typed or picked from the browser's list. */
/** The range picker of a filter bar: presets, and From and To days when the range is custom (a custom range
 * starts from the days the chosen preset covered). */
export function RangeFields(props: {
  label?: string;
  value: string;
  options: Option[];
  from: string;
  to: string;
  update: (patch: { range?: string; from?: string; to?: string }) => void;
}) {
  const { update } = props;
  return (
    <>
      <Select
        label={props.label ?? "Date range"}
        name="range"
        value={props.value}
        options={props.options}
        onChange={(value) => update(value === "custom" ? { range: value, from: props.from, to: props.to } : { range: value, from: "", to: "" })}
      />
      {props.value === "custom" && (
        <>
          <DateField label="From" name="from" value={props.from} onCommit={(from) => update({ from })} />
          <DateField label="To" name="to" value={props.to} onCommit={(to) => update({ to })} />
        </>
      )}
    </>
  );
}

export function ZoneField(props: { value: string; onCommit: (value: string) => void }) {
  return (
    <>
      <TextField label="Time zone" name="timezone" value={props.value} onCommit={props.onCommit} list={ZONES_LIST} valid={isZone} size={18} />
      <datalist id={ZONES_LIST}>
        {allZones().map((z) => (
          <option value={z} />
        ))}
      </datalist>
    </>
  );
}

export function FilterBar({ children, label }: { children: ComponentChildren; label: string }) {
  return (
    <form class="filters" aria-label={label} onSubmit={(e) => e.preventDefault()}>
      {children}
    </form>
  );
}
