// What every page shares: messages, the confirmation dialog, state badges, the
// caller's rights (GET /access), the stream indicator and the curl of an action.

import { call } from "./api.js";
import { byId, h, replace } from "./dom.js";

export const STATES = ["starting", "ready", "updating", "failed", "stopped", "deleting"];

/** Says what happened (role=status); clears the last problem. */
export function notice(text) {
  byId("problem").hidden = true;
  byId("notice").textContent = text;
}

/** Shows a problem's detail (role=alert), with each field error of a 422. */
export function showProblem(problem, what = "") {
  const box = byId("problem");
  const lines = [what ? `${what}: ${problem.detail || problem.message}` : problem.detail || problem.message];
  if (problem.status === 503 && problem.retryAfter) lines.push(`(try again in ${problem.retryAfter} s)`);
  for (const issue of problem.errors ?? []) lines.push(`${issue.field}: ${issue.message}`);
  box.textContent = lines.join("\n");
  box.hidden = false;
  byId("notice").textContent = "";
}

let carried = "";

/** A notice for the next page (set before navigating: the navigation clears messages). */
export function carryNotice(text) {
  carried = text;
}

/** Clears the messages as a new page opens; shows the notice carried to it, if any. */
export function clearMessages() {
  byId("notice").textContent = carried;
  carried = "";
  byId("problem").hidden = true;
}

/** A state badge: the word, and a colour for those who see it. */
export function badge(state) {
  return h("span", { class: "badge state-badge", dataset: { state: state ?? "unknown" } }, state ?? "unknown");
}

/** A "the same with curl" disclosure for a command. */
export function curlDetails(command) {
  return h("details", { class: "curl" }, h("summary", {}, "The same with curl"), h("code", {}, command));
}

/**
 * Asks before an action: text says what will happen. Resolves true on Confirm.
 * The dialog is modal (focus stays in it; Escape cancels).
 */
export function confirmAction({ title, text, curl, confirmLabel = "Confirm" }) {
  const dialog = byId("confirm");
  byId("confirm-title").textContent = title;
  byId("confirm-text").textContent = text;
  byId("confirm-curl").textContent = curl ?? "";
  byId("confirm-ok").textContent = confirmLabel;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
    byId("confirm-cancel").focus();
  });
}

const accessByNamespace = new Map();

/** What the caller may do in namespace (GET /access), asked once per page visit. */
export function access(namespace) {
  if (!accessByNamespace.has(namespace)) {
    const asked = call("GET", "/access", { query: { namespace } }).then((r) => r.body);
    asked.catch(() => accessByNamespace.delete(namespace));
    accessByNamespace.set(namespace, asked);
  }
  return accessByNamespace.get(namespace);
}

export function forgetAccess() {
  accessByNamespace.clear();
}

/** Shows a stream's state in #stream-status (live / reconnecting… / offline). */
export function streamState(element, state, problem) {
  const words = {
    connecting: "connecting…",
    live: "live",
    reconnecting: "reconnecting…",
    failed: "offline",
  };
  element.dataset.state = state;
  replace(element, words[state] ?? state, problem ? ` — ${problem.detail}` : "");
}

const NAMESPACE_KEY = "kserve-functions.namespace";

/** The namespace last chosen in this tab (the list's picker, a deploy), or null. */
export function rememberedNamespace() {
  return sessionStorage.getItem(NAMESPACE_KEY);
}

export function rememberNamespace(namespace) {
  sessionStorage.setItem(NAMESPACE_KEY, namespace);
}
