// Talking to the API: the same origin's routes, with the user's bearer token.
//
// The token lives in this tab's sessionStorage only: never in a URL, a cookie,
// localStorage or a log line. Streams (watch=true, logs with follow=true) are
// read with a streaming fetch, which can send the Authorization header as every
// other call does; EventSource could not, and a token in the URL would end up
// in access logs and the browser's history.

import { EventStreamParser } from "./sse.js";
import { curlCommand } from "./format.js";

const TOKEN_KEY = "kserve-functions.token";

/** The signed-in token, or null. */
export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A problem the API (or the network) answered: RFC 9457 fields plus Retry-After. */
export class ApiProblem extends Error {
  constructor({ status, title, detail, errors = [], retryAfter = null }) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title ?? "";
    this.detail = detail ?? "";
    this.errors = Array.isArray(errors) ? errors : [];
    this.retryAfter = retryAfter;
  }
}

const listeners = new Set();

/** Calls fn(problem) whenever the API answers 401 (the console then asks to sign in). */
export function onUnauthorized(fn) {
  listeners.add(fn);
}

function headersFor(extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  const current = token();
  if (current) headers.Authorization = `Bearer ${current}`;
  return headers;
}

/** "/models?namespace=a" from a path and the query's defined values. */
export function pathWith(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function problemOf(response) {
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  let body = {};
  try {
    body = await response.json();
  } catch {
    body = {};
  }
  const problem = new ApiProblem({
    status: response.status,
    title: body.title ?? response.statusText,
    detail: body.detail ?? `the API answered ${response.status}`,
    errors: body.errors,
    retryAfter,
  });
  if (response.status === 401) for (const fn of listeners) fn(problem);
  return problem;
}

function unreachable(error) {
  return new ApiProblem({
    status: 0,
    title: "The API cannot be reached",
    detail: `the API cannot be reached (${error?.message ?? "network error"}); is it running?`,
  });
}

/**
 * Calls the API; resolves to {status, headers, body} (body parsed when JSON,
 * text otherwise) for a 2xx answer, rejects with an ApiProblem otherwise.
 */
export async function call(method, path, { query, body, headers, signal } = {}) {
  const init = { method, headers: headersFor(headers), signal, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(pathWith(path, query), init);
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw unreachable(error);
  }
  if (!response.ok) throw await problemOf(response);
  const type = response.headers.get("Content-Type") ?? "";
  const parsed = type.includes("json") ? await response.json() : await response.text();
  return { status: response.status, headers: response.headers, body: parsed };
}

/** The curl of a call, for "show the curl" (the token as $TOKEN). */
export function curlOf(method, path, { query, body } = {}) {
  return curlCommand(method, new URL(pathWith(path, query), location.origin).href, body);
}

/**
 * Follows a watch stream (text/event-stream) until stop() is called: each event
 * goes to onEvent(name, data, id); onState(state, detail) hears "connecting",
 * "live", "reconnecting" and "failed". A dropped stream is opened again after
 * the server's retry delay (or Retry-After, or a growing back-off), with
 * Last-Event-ID, so no change is lost. A stream the server cannot resume
 * (400 for the id, 410) starts afresh: onEvent("restart") tells the caller that
 * the whole state follows again.
 */
export function follow(path, query, { onEvent, onState }) {
  const controller = new AbortController();
  let lastEventId = "";
  let failures = 0;
  let stopped = false;

  async function once() {
    const headers = headersFor({ Accept: "text/event-stream" });
    if (lastEventId) headers["Last-Event-ID"] = lastEventId;
    const response = await fetch(pathWith(path, { ...query, watch: "true" }), {
      headers,
      signal: controller.signal,
      cache: "no-store",
    });
    if (!response.ok) throw await problemOf(response);
    onState("live");
    failures = 0;
    const parser = new EventStreamParser();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let retry = 1000;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const event of parser.push(value)) {
        lastEventId = event.id || lastEventId;
        if (event.event !== null) onEvent(event.event, event.data ? JSON.parse(event.data) : null, event.id);
      }
      retry = parser.retry ?? retry;
    }
    return retry;
  }

  (async () => {
    onState("connecting");
    while (!stopped) {
      let wait = 1000;
      try {
        wait = await once();
      } catch (error) {
        if (stopped || error?.name === "AbortError") return;
        const problem = error instanceof ApiProblem ? error : unreachable(error);
        if (problem.status === 401 || problem.status === 403 || problem.status === 404) {
          onState("failed", problem);
          return;
        }
        if ((problem.status === 400 || problem.status === 410) && lastEventId) {
          lastEventId = "";
          onEvent("restart", null, "");
          continue;
        }
        failures += 1;
        wait = problem.retryAfter ? problem.retryAfter * 1000 : Math.min(30000, 500 * 2 ** failures);
        onState("reconnecting", problem);
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();

  return {
    stop() {
      stopped = true;
      controller.abort();
    },
  };
}

/**
 * Reads a text answer as it comes (a followed log): onText(chunk) for each
 * piece, resolves with the answer's headers when it ends; stop() ends it.
 */
export function readText(path, query, { onText, onHeaders }) {
  const controller = new AbortController();
  const done = (async () => {
    let response;
    try {
      response = await fetch(pathWith(path, query), {
        headers: headersFor({ Accept: "text/plain" }),
        signal: controller.signal,
        cache: "no-store",
      });
    } catch (error) {
      if (error?.name === "AbortError") return;
      throw unreachable(error);
    }
    if (!response.ok) throw await problemOf(response);
    onHeaders?.(response.headers);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended) return;
        onText(value);
      }
    } catch (error) {
      if (error?.name !== "AbortError") throw error;
    }
  })();
  return { done, stop: () => controller.abort() };
}
