// Entity lists shared by the pages' pickers: only what the token may see (the server filters).
import { usePanelQuery } from "./query";

export interface Org {
  id: string;
  name: string;
}

const ORGANIZATIONS = `query Organizations { organizations { id name } }`;

export function useOrganizations() {
  return usePanelQuery<{ organizations: Org[] }>(ORGANIZATIONS, {}, "organizations");
}

export const ACTIONS = [
  { value: "ANY", label: "Any" },
  { value: "IDE", label: "IDE" },
  { value: "LOGIN", label: "Login" },
  { value: "APP", label: "App" },
  { value: "TUNNEL", label: "Tunnel" },
  { value: "WEB_TERMINAL", label: "Web terminal" },
];
