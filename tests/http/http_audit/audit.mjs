#!/usr/bin/env node
// Runs the graphql-http GraphQL-over-HTTP conformance audit (`auditServer`) against a live server
// and prints a JSON summary on stdout.
//
// Usage: node audit.mjs <url> [<header-name> <header-value>]...
//
//   e.g. node audit.mjs http://127.0.0.1:8000/graphql Authorization "Bearer xyz"
//
// Every request the audit makes gets the given header(s) added (after the audit's own headers,
// so they override a header of the same name).
//
// stdout: {"ok": N, "notice": N, "warn": N, "error": N, "total": N,
//          "graphql_http_version": "x.y.z",
//          "results": [{"id", "name", "status", "reason"?, "response"?}, ...]}
//   status is 'ok' | 'notice' | 'warn' | 'error' (graphql-http maps a failed MUST to 'error',
//   a failed SHOULD to 'warn', a failed MAY to 'notice'). Non-ok results carry `reason` (a plain
//   string in graphql-http) and a `response` snapshot {status, content_type, body} of the
//   response that failed the assertion (body truncated, may be null when already consumed).
//
// Exit code: 0 whenever the audit ran (whatever the results; the caller judges them),
// 2 on bad usage, 1 when the audit could not run (e.g. connection refused: graphql-http treats
// anything thrown that is not an assertion failure as fatal and rejects).

import { readFileSync } from 'node:fs';
import { auditServer } from 'graphql-http';

const REQUEST_TIMEOUT_MS = Number(process.env.GRAPHQL_AUDIT_REQUEST_TIMEOUT_MS || 30000);
const BODY_SNIPPET_CHARS = 2000;

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node audit.mjs <url> [<header-name> <header-value>]...\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const [url, ...rest] = argv;
  if (!url) usage('missing <url>');
  try {
    new URL(url);
  } catch {
    usage(`invalid url: ${url}`);
  }
  if (rest.length % 2 !== 0) usage('headers must be given as <header-name> <header-value> pairs');
  const extraHeaders = [];
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i]) usage('empty header name');
    extraHeaders.push([rest[i], rest[i + 1]]);
  }
  return { url, extraHeaders };
}

function makeFetchFn(extraHeaders) {
  return (input, init = {}) => {
    const headers = new Headers(init.headers);
    for (const [name, value] of extraHeaders) headers.set(name, value);
    return fetch(input, {
      ...init,
      headers,
      signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  };
}

async function snapshotResponse(res) {
  if (!res || typeof res !== 'object') return null;
  let body = null;
  try {
    // For body assertions graphql-http stores an unread clone; for status/header assertions the
    // body is usually unread too. When it was already consumed, text() throws: keep null.
    if (!res.bodyUsed) {
      body = await res.text();
      if (body.length > BODY_SNIPPET_CHARS) body = `${body.slice(0, BODY_SNIPPET_CHARS)}...`;
    }
  } catch {
    body = null;
  }
  return {
    status: res.status,
    content_type: res.headers?.get?.('content-type') ?? null,
    body,
  };
}

function packageVersion() {
  try {
    const pkgUrl = new URL('./node_modules/graphql-http/package.json', import.meta.url);
    return JSON.parse(readFileSync(pkgUrl, 'utf8')).version;
  } catch {
    return null;
  }
}

async function main() {
  const { url, extraHeaders } = parseArgs(process.argv.slice(2));
  const results = await auditServer({ url, fetchFn: makeFetchFn(extraHeaders) });

  const summary = {
    ok: 0,
    notice: 0,
    warn: 0,
    error: 0,
    total: results.length,
    graphql_http_version: packageVersion(),
    results: [],
  };
  for (const result of results) {
    summary[result.status] = (summary[result.status] ?? 0) + 1;
    const entry = { id: result.id, name: result.name, status: result.status };
    if (result.status !== 'ok') {
      // `reason` is a plain string in graphql-http 1.x; await + String() keeps this robust.
      entry.reason = String(await result.reason);
      entry.response = await snapshotResponse(result.response);
    }
    summary.results.push(entry);
  }
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((err) => {
  const cause = err && err.cause ? ` (cause: ${err.cause.message ?? err.cause})` : '';
  process.stderr.write(`graphql-http audit failed to run: ${err && err.stack ? err.stack : err}${cause}\n`);
  process.exit(1);
});
