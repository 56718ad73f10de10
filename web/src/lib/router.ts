// The location as shared state: pages and filters read it, links and filter changes push a history entry
// (shareable URLs, the back button restores the previous filters).
import { signal, useSignal } from "./signal";

const location = signal(currentLocation());

function currentLocation(): { path: string; search: string } {
  return { path: window.location.pathname, search: window.location.search };
}

window.addEventListener("popstate", () => location.set(currentLocation()));

export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  location.set(currentLocation());
}

export function useLocation(): { path: string; search: string } {
  return useSignal(location);
}

/** Filter state kept in the URL's query string. Values equal to their default are left out of the URL. */
export function useUrlState<T extends Record<string, string>>(defaults: T): [T, (patch: Partial<T>) => void] {
  const { path, search } = useLocation();
  const params = new URLSearchParams(search);
  const state = { ...defaults };
  for (const key of Object.keys(defaults) as (keyof T & string)[]) {
    const value = params.get(key);
    if (value !== null) state[key] = value as T[typeof key];
  }
  const update = (patch: Partial<T>) => {
    const next = new URLSearchParams(window.location.search);
    for (const [key, value] of Object.entries(patch)) {
      if (value === undefined || value === defaults[key]) next.delete(key);
      else next.set(key, value as string);
    }
    const query = next.toString();
    const url = path + (query ? `?${query}` : "");
    if (url !== window.location.pathname + window.location.search) navigate(url);
  };
  return [state, update];
}

/** A link that the dashboard routes itself (a normal link for middle-click, new tab, copy). */
export function onLinkClick(event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(anchor.getAttribute("href") ?? "/ui/");
  window.scrollTo(0, 0);
}
