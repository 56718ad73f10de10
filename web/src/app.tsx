import { useEffect } from "preact/hooks";
import { signInReason, signOut, token } from "./lib/auth";
import { forgetAnswers, usePanelQuery } from "./lib/query";
import { navigate, onLinkClick, useLocation } from "./lib/router";
import { useSignal } from "./lib/signal";
import { SignIn } from "./pages/SignIn";
import { HOME, PAGES } from "./routes";

const VIEWER = `query Viewer { viewer { username name } }`;

export function App() {
  const current = useSignal(token);
  const reason = useSignal(signInReason);
  const { path } = useLocation();

  useEffect(() => {
    if (path === "/ui" || path === "/ui/" || path === "/") navigate(HOME, true);
  }, [path]);

  if (!current) return <SignIn reason={reason} />;
  return <Shell path={path} key={current} />;
}

function Shell({ path }: { path: string }) {
  const viewer = usePanelQuery<{ viewer: { username: string; name: string } }>(VIEWER, {}, "viewer");
  const page = PAGES.find((p) => p.path === path.replace(/\/$/, ""));
  useEffect(() => {
    document.title = page ? `${page.title} · usagegraph` : "usagegraph";
  }, [page]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={HOME} onClick={onLinkClick}>
          usagegraph
        </a>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li>
                <a href={p.path} onClick={onLinkClick} aria-current={p === page ? "page" : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
            <li>
              <a href="/graphql">GraphiQL</a>
            </li>
          </ul>
        </nav>
        <div class="who">
          {viewer.status === "ok" && (
            <span data-viewer={viewer.data.viewer.username}>
              Signed in as <strong>{viewer.data.viewer.username}</strong>
            </span>
          )}
          <button
            type="button"
            class="small"
            onClick={() => {
              forgetAnswers();
              signOut();
            }}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page ? (
          <page.component />
        ) : (
          <section class="panel">
            <h1>Page not found</h1>
            <p>
              There is no page at <code>{path}</code>. Go to{" "}
              <a href={HOME} onClick={onLinkClick}>
                Activity
              </a>
              .
            </p>
          </section>
        )}
      </main>
    </>
  );
}
