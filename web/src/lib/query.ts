// usePanelQuery: a panel's own GraphQL request, re-sent when its variables change, earlier requests
// aborted, answers kept for the tab (the back button redraws at once). Field errors under the panel's
// root path (FORBIDDEN, INSIGHTS_DISABLED, BAD_USER_INPUT...) become the panel's error.
import { useEffect, useState } from "preact/hooks";
import { type ErrorInfo, graphql, RequestFailed, Unauthorized, errorAt } from "./api";

export type QueryState<T> =
  | { status: "loading"; data: null; error: null }
  | { status: "ok"; data: T; error: null }
  | { status: "error"; data: null; error: ErrorInfo }
  | { status: "idle"; data: null; error: null };

const cache = new Map<string, { data: unknown } | { error: ErrorInfo }>();
const CACHE_SIZE = 100;

function remember(key: string, value: { data: unknown } | { error: ErrorInfo }): void {
  cache.delete(key);
  cache.set(key, value);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
}

export function forgetAnswers(): void {
  cache.clear();
}

function fromCache<T>(key: string): QueryState<T> | null {
  const hit = cache.get(key);
  if (!hit) return null;
  return "data" in hit
    ? { status: "ok", data: hit.data as T, error: null }
    : { status: "error", data: null, error: hit.error };
}

/** `variables: null` asks for nothing (a panel waiting for a choice, or for another panel). */
export function usePanelQuery<T>(
  query: string,
  variables: Record<string, unknown> | null,
  root: string,
): QueryState<T> {
  const key = variables === null ? null : `${query}\n${JSON.stringify(variables)}`;
  const [state, setState] = useState<{ key: string | null; value: QueryState<T> }>(() => ({
    key,
    value: key === null ? idle() : fromCache<T>(key) ?? loading(),
  }));

  useEffect(() => {
    if (key === null || variables === null) {
      setState({ key, value: idle() });
      return;
    }
    const cached = fromCache<T>(key);
    if (cached) {
      setState({ key, value: cached });
      return;
    }
    setState({ key, value: loading() });
    const controller = new AbortController();
    graphql<T>(query, variables, controller.signal).then(
      (result) => {
        const error = errorAt(result, [root]);
        if (error) {
          if (error.code !== "INTERNAL_SERVER_ERROR") remember(key, { error });
          setState({ key, value: { status: "error", data: null, error } });
        } else {
          remember(key, { data: result.data });
          setState({ key, value: { status: "ok", data: result.data as T, error: null } });
        }
      },
      (error: Error) => {
        if (error.name === "AbortError" || error instanceof Unauthorized) return;
        const info =
          error instanceof RequestFailed ? error.info : { message: error.message, code: null, requestId: null };
        setState({ key, value: { status: "error", data: null, error: info } });
      },
    );
    return () => controller.abort();
  }, [key]);

  // Render the state of the current key only: never a previous filter's data under the new filter.
  if (state.key !== key) return key === null ? idle() : fromCache<T>(key) ?? loading();
  return state.value;
}

function idle<T>(): QueryState<T> {
  return { status: "idle", data: null, error: null };
}

function loading<T>(): QueryState<T> {
  return { status: "loading", data: null, error: null };
}
