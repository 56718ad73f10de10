// GraphiQL, built from its npm packages and served by the server itself (no CDN: works offline).
import { explorerPlugin } from "@graphiql/plugin-explorer";
import "@graphiql/plugin-explorer/dist/style.css";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/graphiql.css";
import "./graphiql-page.css";
import { createElement, useState } from "react";
import { createRoot } from "react-dom/client";
import { TOKEN_KEY } from "./lib/token-key";

const EXAMPLE_QUERY = `# usagegraph: usage analytics over GraphQL.
# The Headers tab carries your token: {"Authorization": "Bearer <token>"}
# (filled in from the dashboard's sign-in, or by opening /graphql#token=<token>).
{
  viewer { username }
  organizations {
    name
    templates { name workspaces { totalCount } }
  }
}
`;

const params = new URLSearchParams(window.location.search);
const hashToken = new URLSearchParams(window.location.hash.slice(1)).get("token");
if (hashToken) {
  sessionStorage.setItem(TOKEN_KEY, hashToken);
  history.replaceState(null, "", window.location.pathname + window.location.search);
}
const token = hashToken || sessionStorage.getItem(TOKEN_KEY);

function updateURL(key: string, value: string | undefined): void {
  const next = new URLSearchParams(window.location.search);
  if (value) next.set(key, value);
  else next.delete(key);
  const search = next.toString();
  history.replaceState(null, "", window.location.pathname + (search ? `?${search}` : ""));
}

const fetcher = createGraphiQLFetcher({ url: "/graphql" });
const explorer = explorerPlugin();

function App() {
  const [query, setQuery] = useState(params.get("query") || EXAMPLE_QUERY);
  const [variables, setVariables] = useState(params.get("variables") || undefined);
  return createElement(GraphiQL, {
    fetcher,
    plugins: [explorer],
    query,
    variables,
    defaultHeaders: token ? JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) : undefined,
    defaultEditorToolsVisibility: true,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    inputValueDeprecation: true,
    onEditQuery: (value: string) => {
      setQuery(value);
      updateURL("query", value);
    },
    onEditVariables: (value: string) => {
      setVariables(value);
      updateURL("variables", value);
    },
  });
}

const root = document.getElementById("graphiql");
if (root) createRoot(root).render(createElement(App));
