import type { ComponentChildren } from "preact";
import type { ErrorInfo } from "../lib/api";
import type { QueryState } from "../lib/query";

/** Why a FORBIDDEN field is refused, in words a person can act on. */
export function ErrorBox({ error, permission }: { error: ErrorInfo; permission?: string }) {
  if (error.code === "FORBIDDEN" && permission) {
    return (
      <div class="notice forbidden" role="status" data-state="forbidden">
        <strong>Not visible with this token.</strong> This panel needs the <code>{permission}</code> permission.
        <div class="muted">{error.message}</div>
      </div>
    );
  }
  return (
    <div class="notice error" role="alert" data-state="error" data-code={error.code ?? ""}>
      <strong>{error.code === "BAD_USER_INPUT" ? "The filters were refused" : "This panel could not be loaded"}:</strong>{" "}
      {error.message}
      {error.requestId && (
        <div class="muted">
          request id <code class="request-id">{error.requestId}</code>
        </div>
      )}
    </div>
  );
}

export function Loading() {
  return (
    <div class="loading" role="status" data-state="loading">
      Loading…
    </div>
  );
}

export function Empty({ children }: { children?: ComponentChildren }) {
  return (
    <div class="empty" data-state="empty">
      {children ?? "No activity in this range."}
    </div>
  );
}

interface PanelProps<T> {
  id: string;
  title: string;
  state: QueryState<T>;
  permission?: string;
  /** Controls drawn in the panel's header (they stay while it loads). */
  controls?: ComponentChildren;
  isEmpty?: (data: T) => boolean;
  empty?: ComponentChildren;
  children: (data: T) => ComponentChildren;
  wide?: boolean;
}

/** A titled card that shows its query's loading, error, forbidden, empty and drawn states. */
export function Panel<T>(props: PanelProps<T>) {
  const { state } = props;
  let body: ComponentChildren;
  if (state.status === "loading") body = <Loading />;
  else if (state.status === "error") body = <ErrorBox error={state.error} permission={props.permission} />;
  else if (state.status === "idle") body = null;
  else if (props.isEmpty?.(state.data)) body = <Empty>{props.empty}</Empty>;
  else body = props.children(state.data);
  return (
    <section
      class={`panel${props.wide ? " wide" : ""}`}
      id={props.id}
      aria-labelledby={`${props.id}-title`}
      aria-busy={state.status === "loading"}
      data-panel={props.id}
      data-state={state.status === "ok" ? (props.isEmpty?.(state.data) ? "empty" : "ready") : state.status}
    >
      <header class="panel-header">
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        {props.controls && <div class="panel-controls">{props.controls}</div>}
      </header>
      <div class="panel-body">{body}</div>
    </section>
  );
}
