// The dashboard's pages. A page is a path under /ui/, a title for the nav and a component; the server
// answers index.html for every path under /ui/, so links and reloads work.
import type { FunctionComponent } from "preact";
import { ActivityPage } from "./pages/Activity";
import { ComputePage } from "./pages/Compute";
import { InsightsPage } from "./pages/Insights";
import { SessionsPage } from "./pages/Sessions";

export interface PageRoute {
  path: string;
  title: string;
  component: FunctionComponent;
}

export const PAGES: PageRoute[] = [
  { path: "/ui/activity", title: "Activity", component: ActivityPage },
  { path: "/ui/insights", title: "Template Insights", component: InsightsPage },
  { path: "/ui/sessions", title: "AI sessions", component: SessionsPage },
  { path: "/ui/compute", title: "Compute", component: ComputePage },
];

export const HOME = PAGES[0].path;
