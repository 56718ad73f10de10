import type { ComponentChildren } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { download, toCsv } from "../lib/csv";

export interface Column<R> {
  key: string;
  label: string;
  /** Sort key (and the cell's data-value). */
  value: (row: R) => string | number;
  /** The text shown and written to the CSV; String(value) when omitted. */
  text?: (row: R) => string;
  /** Extra drawing inside the cell (a bar, a colour band); the text is drawn too. */
  render?: (row: R) => ComponentChildren;
  numeric?: boolean;
  sortable?: boolean;
}

interface TableProps<R> {
  id: string;
  label: string;
  columns: Column<R>[];
  rows: R[];
  rowKey: (row: R) => string;
  /** Initial sort; `null` keeps the server's order. */
  sort?: { key: string; desc: boolean } | null;
  pageSize?: number;
  filename: string;
  /** Details drawn under a row when its toggle is pressed (loaded on demand by the caller). */
  expand?: (row: R) => ComponentChildren;
  expandLabel?: string;
  /** Called when a row is opened (to load what `expand` draws). */
  onExpand?: (row: R) => void;
}

function sortNumber(value: string | number): number | string {
  if (typeof value === "number") return value;
  const n = Number(value);
  return value.trim() === "" || Number.isNaN(n) ? value : n;
}

/** A sortable, paged table whose CSV holds every row in the order shown. Paging keeps 5,000 rows fast. */
export function Table<R>(props: TableProps<R>) {
  const { columns, rows } = props;
  const pageSize = props.pageSize ?? 25;
  const [sort, setSort] = useState(props.sort ?? null);
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<Set<string>>(new Set());

  useEffect(() => {
    setPage(0);
    setOpen(new Set());
  }, [rows]);

  const sorted = useMemo(() => {
    if (!sort) return rows;
    const column = columns.find((c) => c.key === sort.key);
    if (!column) return rows;
    // A numeric column's value may be a decimal string (a cost): it sorts as the number it is.
    const value = column.numeric ? (row: R) => sortNumber(column.value(row)) : column.value;
    const keyed = rows.map((row, index) => ({ row, index, key: value(row) }));
    keyed.sort((a, b) => {
      const order = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
      return (sort.desc ? -order : order) || a.index - b.index;
    });
    return keyed.map((k) => k.row);
  }, [rows, sort, columns]);

  const pages = Math.max(1, Math.ceil(sorted.length / pageSize));
  const current = Math.min(page, pages - 1);
  const shown = sorted.slice(current * pageSize, (current + 1) * pageSize);
  const text = (column: Column<R>, row: R) => (column.text ? column.text(row) : String(column.value(row)));

  const exportCsv = () => {
    const header = columns.map((c) => c.label);
    download(props.filename, toCsv(header, sorted.map((row) => columns.map((c) => text(c, row)))));
  };

  const toggleSort = (key: string) => {
    setSort((s) => (s && s.key === key ? { key, desc: !s.desc } : { key, desc: true }));
    setPage(0);
  };

  const toggleRow = (key: string, row: R) => {
    if (!open.has(key)) props.onExpand?.(row);
    setOpen((o) => {
      const next = new Set(o);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  };

  const width = columns.length + (props.expand ? 1 : 0);
  return (
    <div class="table-wrap" data-table={props.id}>
      <div class="table-tools">
        <span class="muted" data-role="row-count" data-count={sorted.length}>
          {sorted.length === 0
            ? "no rows"
            : `rows ${current * pageSize + 1}–${current * pageSize + shown.length} of ${sorted.length}`}
        </span>
        <button type="button" class="small" onClick={exportCsv} data-action="csv">
          Download CSV
        </button>
      </div>
      <table aria-label={props.label}>
        <thead>
          <tr>
            {props.expand && (
              <th scope="col">
                <span class="sr-only">{props.expandLabel ?? "Details"}</span>
              </th>
            )}
            {columns.map((c) => {
              const active = sort?.key === c.key;
              const aria = active ? (sort?.desc ? "descending" : "ascending") : "none";
              return (
                <th scope="col" class={c.numeric ? "num" : ""} aria-sort={c.sortable === false ? undefined : aria} data-col={c.key}>
                  {c.sortable === false ? (
                    c.label
                  ) : (
                    <button type="button" class="sort" onClick={() => toggleSort(c.key)}>
                      {c.label}
                      <span aria-hidden="true" class="sort-mark">
                        {active ? (sort?.desc ? " ▼" : " ▲") : ""}
                      </span>
                    </button>
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {shown.map((row) => {
            const key = props.rowKey(row);
            const isOpen = open.has(key);
            return [
              <tr key={key} data-row={key}>
                {props.expand && (
                  <td>
                    <button
                      type="button"
                      class="small toggle"
                      aria-expanded={isOpen}
                      onClick={() => toggleRow(key, row)}
                      aria-label={`${props.expandLabel ?? "Details"}: ${text(columns[0], row)}`}
                    >
                      {isOpen ? "−" : "+"}
                    </button>
                  </td>
                )}
                {columns.map((c) => (
                  <td class={c.numeric ? "num" : ""} data-col={c.key} data-value={String(c.value(row))}>
                    {c.render ? c.render(row) : text(c, row)}
                  </td>
                ))}
              </tr>,
              isOpen && props.expand ? (
                <tr key={`${key}-details`} class="details">
                  <td colSpan={width}>{props.expand(row)}</td>
                </tr>
              ) : null,
            ];
          })}
        </tbody>
      </table>
      {pages > 1 && (
        <nav class="pager" aria-label={`${props.label} pages`}>
          <button type="button" class="small" disabled={current === 0} onClick={() => setPage(0)}>
            First
          </button>
          <button type="button" class="small" disabled={current === 0} onClick={() => setPage(current - 1)}>
            Previous
          </button>
          <span>
            page {current + 1} of {pages}
          </span>
          <button type="button" class="small" disabled={current >= pages - 1} onClick={() => setPage(current + 1)}>
            Next
          </button>
          <button type="button" class="small" disabled={current >= pages - 1} onClick={() => setPage(pages - 1)}>
            Last
          </button>
        </nav>
      )}
    </div>
  );
}
