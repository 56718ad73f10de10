// The dashboard's pages. A page is a path under /ui/, a title for the nav and a component; the server
// answers index.html for every path under /ui/, so links and reloads work.
import type { FunctionComponent } from "preact";
import { ActivityPage } from "./pages/Activity";
import { InsightsPage } from "./pages/Insights";

export interface PageRoute {
  path: string;
  title: string;
  component: FunctionComponent;
}

export const PAGES: PageRoute[] = [
  { path: "/ui/activity", title: "Activity", component: ActivityPage },
  { path: "/ui/insights", title: "Template Insights", component: InsightsPage },
];

export const HOME = PAGES[0].path;
