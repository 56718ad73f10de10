// The dashboard's GraphQL client: one POST per panel, the token from the tab, errors with their code and
// the server's request id, a 401 bringing the sign-in back with the server's reason.
import { signOut, token } from "./auth";

export interface GraphQLErrorItem {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; requestId?: string; argument?: string };
}

export interface GraphQLResult<T> {
  data: T | null;
  errors: GraphQLErrorItem[];
  requestId: string | null;
}

/** What a panel shows when its data could not be had. */
export interface ErrorInfo {
  message: string;
  code: string | null;
  requestId: string | null;
}

export class RequestFailed extends Error {
  constructor(public info: ErrorInfo) {
    super(info.message);
  }
}

export class Unauthorized extends Error {}

export async function graphql<T>(
  query: string,
  variables: Record<string, unknown> = {},
  signal?: AbortSignal,
): Promise<GraphQLResult<T>> {
  const current = token.get();
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
        ...(current ? { Authorization: `Bearer ${current}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
      signal,
      credentials: "omit",
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new RequestFailed({ message: `The server cannot be reached (${(error as Error).message})`, code: null, requestId: null });
  }
  const requestId = response.headers.get("x-request-id");
  let body: { data?: T | null; errors?: GraphQLErrorItem[] } | null = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const errors = body?.errors ?? [];
  if (response.status === 401) {
    const reason = errors[0]?.message ?? "The token was refused";
    signOut(reason);
    throw new Unauthorized(reason);
  }
  if (!body || (!body.data && errors.length) || !response.ok) {
    const first = errors[0];
    throw new RequestFailed({
      message: first?.message ?? `HTTP ${response.status}`,
      code: first?.extensions?.code ?? null,
      requestId: first?.extensions?.requestId ?? requestId,
    });
  }
  return { data: body.data ?? null, errors, requestId };
}

/** The first error at or under `path` (e.g. ["activity"]), as a panel shows it. */
export function errorAt(result: GraphQLResult<unknown>, path: (string | number)[]): ErrorInfo | null {
  const hit = result.errors.find((e) => path.every((p, i) => e.path?.[i] === p)) ?? null;
  if (!hit) return null;
  return { message: hit.message, code: hit.extensions?.code ?? null, requestId: hit.extensions?.requestId ?? result.requestId };
}
