// A model's page: its summary, conditions, canary, revisions, events, logs and
// manifest, kept live by the model's watch stream (GET …?watch=true): each
// change the stream sends re-reads what it may have changed.

import { call, curlOf, follow, readText } from "./api.js";
import { h, replace, timeElement } from "./dom.js";
import { absoluteTime, relativeTime, stripAnsi, toYaml } from "./format.js";
import { access, badge, carryNotice, confirmAction, rememberNamespace, rememberedNamespace, curlDetails, notice, showProblem, streamState } from "./shell.js";

const CONTAINERS = ["kserve-container", "storage-initializer", "queue-proxy", "agent"];
const LOG_LIMIT = 400_000; // characters kept in the log view

function section(id, title, ...children) {
  return h("section", { id: `${id}-section`, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), ...children);
}

// Relative and absolute both visible: a title alone is out of reach of the keyboard.
function when(iso) {
  if (!iso) return timeElement(iso);
  return h("span", {}, timeElement(iso, relativeTime(iso), absoluteTime(iso)), " ", h("span", { class: "muted" }, `(${absoluteTime(iso)})`));
}

export function detailPage(view, namespace, name) {
  const base = `/models/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
  const el = {
    state: h("span", { id: "detail-state" }),
    reason: h("p", { id: "detail-reason" }),
    status: h("span", { id: "stream-status", class: "stream-state", role: "status" }),
    actions: h("div", { class: "actions", role: "group", "aria-label": "Actions" }),
    note: h("p", { id: "actions-note" }),
    curl: h("div"),
    summary: h("dl", { id: "detail-summary", class: "summary" }),
    // Scrolled sideways on a narrow screen: focusable, so a keyboard can scroll them too.
    conditions: h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": "conditions-title" }),
    traffic: h("div", { id: "traffic" }),
    revisions: h("ol", { id: "revisions", class: "timeline" }),
    events: h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": "events-title" }),
    // A plain <pre> may not carry a label (no role): these are named regions.
    manifest: h("pre", { id: "manifest", tabindex: "0", role: "region", "aria-label": "The InferenceService as YAML" }),
    changes: h("ol", { id: "changes" }),
    logOutput: h("pre", { id: "log-output", tabindex: "0", role: "log", "aria-label": "Log", "aria-live": "off" }),
  };
  const logPod = h("select", { id: "log-pod" }, h("option", { value: "" }, "newest pod"));
  const logContainer = h("select", { id: "log-container" }, CONTAINERS.map((c) => h("option", { value: c }, c)));
  const logPrevious = h("input", { id: "log-previous", type: "checkbox" });
  const logTail = h("input", { id: "log-tail", type: "number", min: "1", max: "10000", value: "200", inputmode: "numeric" });
  const logFollow = h("input", { id: "log-follow", type: "checkbox" });
  const logLoad = h("button", { type: "button", id: "log-load" }, "Show log");
  const logCurl = h("div");

  let detail = null;
  let revisions = [];
  let lastShown = null;
  let stream = null;
  let logStream = null;
  let refresh = 0;
  let gone = false;
  const pods = new Set();

  replace(view, h("p", { class: "loading" }, `Loading ${name} in ${namespace}…`));

  function layout() {
    replace(
      view,
      h("article", { id: "detail-page", "aria-labelledby": "detail-title" },
        h("p", {}, h("a", { href: "#/models" }, "← Models")),
        h("h1", { id: "detail-title" }, `${name} `, h("span", { class: "muted" }, `in ${namespace}`)),
        h("div", { class: "toolbar" }, el.state, el.status),
        el.reason,
        el.actions,
        el.note,
        el.curl,
        h("div", { class: "columns" },
          section("summary", "Summary", el.summary),
          // Beside the long summary: the split and the timeline, seen together.
          h("div", {},
            section("traffic", "Stable and canary", el.traffic),
            section("revisions", "Revisions", el.revisions),
          ),
        ),
        section("conditions", "Conditions", el.conditions),
        section("events", "Kubernetes events", el.events),
        section("logs", "Logs",
          h("div", { class: "toolbar" },
            h("div", {}, h("label", { for: "log-pod" }, "Pod"), logPod),
            h("div", {}, h("label", { for: "log-container" }, "Container"), logContainer),
            h("div", {}, h("label", { for: "log-tail" }, "Last lines"), logTail),
            h("div", {}, logPrevious, " ", h("label", { for: "log-previous" }, "previous container")),
            h("div", {}, logFollow, " ", h("label", { for: "log-follow" }, "follow live")),
            logLoad,
          ),
          el.logOutput,
          logCurl,
        ),
        section("manifest", "InferenceService (read-only)", el.manifest),
        section("changes", "State changes seen since this page opened", el.changes),
      ),
    );
  }

  function showSummary() {
    const d = detail;
    replace(el.state, badge(gone ? "deleting" : d.state));
    el.reason.textContent = gone
      ? "The model was deleted."
      : [d.reason, d.message].filter(Boolean).join(": ") || (d.ready ? "Ready to serve." : "");
    const resources = d.resources ?? {};
    const gpus = resources.limits?.["nvidia.com/gpu"] ?? resources.requests?.["nvidia.com/gpu"];
    const item = (term, ...value) => {
      const shown = value.flat().filter((v) => v !== "" && v !== null && v !== undefined);
      return [h("dt", {}, term), h("dd", {}, ...(shown.length ? shown : ["—"]))];
    };
    const quantities = (kind) =>
      Object.entries(resources[kind] ?? {}).map(([k, v]) => `${k} ${v}`).join(", ");
    replace(
      el.summary,
      item("URL", d.url ?? h("span", { class: "muted" }, "none yet")),
      item("Mode", d.deploymentMode ?? ""),
      item("Runtime / format", [d.runtime, d.modelFormat].filter(Boolean).join(" / ")),
      item("Image", d.image ?? ""),
      item("Storage URI", d.storageUri ?? ""),
      item("Requests", quantities("requests")),
      item("Limits", quantities("limits")),
      item("GPUs", gpus ?? "none"),
      item("Replicas", `min ${d.minReplicas ?? "default"}, max ${d.maxReplicas ?? "default"}`),
      item("Generation", `${d.generation ?? "?"} (observed ${d.observedGeneration ?? "not yet"})`),
      item("Created", when(d.createdAt)),
      item("Last changed by", d.changedBy ? [d.changedBy, " ", when(d.changedAt)] : ""),
      item("Labels", Object.entries(d.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(", ")),
      item("Annotations", Object.entries(d.annotations ?? {}).map(([k, v]) => h("div", {}, `${k}: ${v}`))),
    );
    replace(
      el.conditions,
      (d.conditions ?? []).length === 0
        ? h("p", { class: "empty" }, "KServe has reported no conditions yet.")
        : h("table", { id: "conditions" },
            h("thead", {}, h("tr", {}, ["Type", "Status", "Reason", "Message", "Since"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, d.conditions.map((c) =>
              h("tr", {}, h("th", { scope: "row" }, c.type), h("td", {}, c.status), h("td", {}, c.reason ?? ""),
                h("td", {}, c.message ?? ""), h("td", {}, when(c.lastTransitionTime))))),
          ),
    );
    showTraffic(d);
  }

  function showTraffic(d) {
    const side = (id, title, view) =>
      h("div", { class: "side", id },
        h("h3", {}, title),
        view
          ? h("dl", { class: "summary" },
              h("dt", {}, "Traffic"), h("dd", {}, `${view.trafficPercent ?? "?"} %`),
              h("dt", {}, "Image"), h("dd", {}, view.image ?? "—"),
              h("dt", {}, "Storage URI"), h("dd", {}, view.storageUri ?? "—"),
              h("dt", {}, "Ready"), h("dd", {}, view.ready === undefined || view.ready === null ? "unknown" : view.ready ? "yes" : "no"))
          : h("p", { class: "muted" }, "No canary."),
      );
    const stable = d.canary ? d.stable?.trafficPercent ?? 100 - (d.canary.trafficPercent ?? 0) : 100;
    const canary = d.canary ? d.canary.trafficPercent ?? 0 : 0;
    const bar = h("div", { class: "bar", id: "traffic-bar", role: "img", "aria-label": `stable ${stable} %, canary ${canary} %` });
    const part = (cls, percent, label) => {
      const span = h("span", { class: cls }, percent > 12 ? `${label} ${percent} %` : "");
      span.style.flexGrow = String(percent);
      return span;
    };
    bar.append(part("stable", stable, "stable"));
    if (canary > 0) bar.append(part("canary", canary, "canary"));
    replace(el.traffic,
      bar,
      h("div", { class: "sides" }, side("traffic-stable", "Stable", d.stable ?? { trafficPercent: stable, image: d.image, storageUri: d.storageUri, ready: d.ready }), side("traffic-canary", "Canary", d.canary)),
    );
  }

  function showRevisions() {
    if (revisions.length === 0) {
      replace(el.revisions, h("li", { class: "empty" }, "No revisions recorded (the model was not deployed through this API)."));
      return;
    }
    replace(
      el.revisions,
      revisions.map((r, index) =>
        h("li", { dataset: { revision: r.revision } },
          h("strong", {}, `Revision ${r.revision}`), ` — ${r.action}`,
          r.rollbackOf ? ` of revision ${r.rollbackOf}` : "",
          " by ", r.by ?? "someone", " ", when(r.at),
          r.how ? h("div", { class: "muted" }, `via ${r.how}`) : null,
          r.generation ? h("div", { class: "muted" }, `generation ${r.generation}`) : null,
          index === 0
            ? h("div", { class: "muted" }, "the newest")
            : h("div", {}, h("button", {
                type: "button",
                class: "rollback",
                dataset: { revision: r.revision },
                "aria-describedby": "actions-note",
                onclick: () => rollback(r),
              }, `Roll back to revision ${r.revision}`)),
        ),
      ),
    );
    applyRights();
  }

  async function loadRevisions() {
    try {
      revisions = (await call("GET", `${base}/revisions`)).body.revisions;
      showRevisions();
    } catch (problem) {
      replace(el.revisions, h("li", { class: "field-error" }, `Revisions: ${problem.detail}`));
    }
  }

  async function loadEvents() {
    try {
      const events = (await call("GET", `${base}/events`)).body.events;
      for (const e of events) if (e.object?.startsWith("Pod/")) addPod(e.object.slice(4));
      replace(
        el.events,
        events.length === 0
          ? h("p", { class: "empty" }, "No events.")
          : h("table", { id: "events" },
              h("thead", {}, h("tr", {}, ["Type", "Reason", "Object", "Message", "Count", "Last seen"].map((t) => h("th", { scope: "col" }, t)))),
              h("tbody", {}, events.map((e) =>
                h("tr", {}, h("td", {}, e.type ?? ""), h("td", {}, e.reason ?? ""), h("td", {}, e.object),
                  h("td", {}, e.message ?? ""), h("td", {}, String(e.count ?? 1)), h("td", {}, when(e.lastTime ?? e.firstTime))))),
            ),
      );
    } catch (problem) {
      replace(el.events, h("p", { class: "field-error" }, `Events: ${problem.detail}`));
    }
  }

  async function loadManifest() {
    try {
      el.manifest.textContent = toYaml((await call("GET", `${base}/manifest`)).body.manifest);
    } catch (problem) {
      el.manifest.textContent = `The manifest cannot be shown: ${problem.detail}`;
    }
  }

  async function loadDetail() {
    detail = (await call("GET", base)).body;
    showSummary();
    applyRights();
  }

  function refreshAll() {
    clearTimeout(refresh);
    refresh = setTimeout(() => {
      loadDetail().catch((problem) => problem.status !== 404 && showProblem(problem, "Reading the model"));
      loadRevisions();
      loadEvents();
      loadManifest();
    }, 150);
  }

  function addPod(pod) {
    if (!pod || pods.has(pod)) return;
    pods.add(pod);
    logPod.append(h("option", { value: pod }, pod));
  }

  function logQuery() {
    return {
      pod: logPod.value,
      container: logContainer.value,
      tailLines: logTail.value,
      previous: logPrevious.checked ? "true" : "",
    };
  }

  function showLogCurl(query) {
    replace(logCurl, curlDetails(curlOf("GET", `${base}/logs`, { query })));
  }

  async function loadLog() {
    logStream?.stop();
    logStream = null;
    if (logFollow.checked) return followLog();
    const query = logQuery();
    showLogCurl(query);
    el.logOutput.textContent = "Loading…";
    try {
      const answer = await call("GET", `${base}/logs`, { query });
      addPod(answer.headers.get("X-Pod"));
      el.logOutput.textContent = stripAnsi(answer.body) || "(the log is empty)";
    } catch (problem) {
      el.logOutput.textContent = `No log: ${problem.detail}`;
    }
  }

  function followLog() {
    const query = { ...logQuery(), follow: "true" };
    showLogCurl(query);
    el.logOutput.textContent = "";
    let text = "";
    logStream = readText(`${base}/logs`, query, {
      onHeaders: (headers) => addPod(headers.get("X-Pod")),
      onText: (chunk) => {
        text = (text + stripAnsi(chunk)).slice(-LOG_LIMIT);
        el.logOutput.textContent = text;
        el.logOutput.scrollTop = el.logOutput.scrollHeight;
      },
    });
    logStream.done
      .then(() => {
        if (logFollow.checked) el.logOutput.textContent += "\n(the log stream ended; tick follow again to reopen it)";
      })
      .catch((problem) => {
        el.logOutput.textContent = `No log: ${problem.detail}`;
      });
  }

  // -- actions ------------------------------------------------------------------

  const buttons = {
    edit: h("button", { type: "button", id: "action-edit", "aria-describedby": "actions-note", onclick: () => { location.hash = `#/edit/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`; } }, "Edit"),
    stop: h("button", { type: "button", id: "action-stop", "aria-describedby": "actions-note", onclick: () => act("stop") }, "Stop"),
    resume: h("button", { type: "button", id: "action-resume", "aria-describedby": "actions-note", onclick: () => act("resume") }, "Resume"),
    promote: h("button", { type: "button", id: "action-promote", "aria-describedby": "actions-note", onclick: () => act("promote") }, "Promote canary"),
    abort: h("button", { type: "button", id: "action-abort", "aria-describedby": "actions-note", class: "danger", onclick: () => act("abort") }, "Abort canary"),
    delete: h("button", { type: "button", id: "action-delete", "aria-describedby": "actions-note", class: "danger", onclick: () => act("delete") }, "Delete"),
  };
  const RIGHT = { edit: "deploy", stop: "stop", resume: "resume", promote: "promote", abort: "abort", delete: "delete" };
  let rights = null;

  function applyRights() {
    if (!detail) return;
    const stopped = detail.state === "stopped";
    const hasCanary = Boolean(detail.canary);
    buttons.stop.hidden = stopped;
    buttons.resume.hidden = !stopped;
    buttons.promote.hidden = !hasCanary;
    buttons.abort.hidden = !hasCanary;
    const reasons = new Map();
    for (const [key, button] of Object.entries(buttons)) {
      const right = rights?.actions?.[RIGHT[key]];
      const allowed = gone ? false : right ? right.allowed : rights !== null;
      button.disabled = !allowed;
      if (right && !right.allowed && !button.hidden) reasons.set(right.reason, [...(reasons.get(right.reason) ?? []), button.textContent]);
    }
    const rollback = rights?.actions?.rollback;
    for (const button of el.revisions.querySelectorAll("button.rollback")) {
      button.disabled = gone || !(rollback?.allowed ?? false);
    }
    if (rollback && !rollback.allowed) reasons.set(rollback.reason, [...(reasons.get(rollback.reason) ?? []), "Roll back"]);
    el.note.textContent = gone
      ? "The model is gone: nothing more can be done with it."
      : [...reasons].map(([reason, what]) => `${what.join(", ")}: not allowed — ${reason}`).join("\n");
  }

  const WORDS = {
    stop: () => ({
      title: `Stop ${name}?`,
      text: `Stop ${name} in ${namespace}: KServe scales its predictor down to no pods, so it serves nothing until resumed. Its spec and revisions stay.`,
      label: "Stop",
    }),
    resume: () => ({
      title: `Resume ${name}?`,
      text: `Resume ${name} in ${namespace}: its predictor starts again with its current spec.`,
      label: "Resume",
    }),
    promote: () => ({
      title: `Promote the canary of ${name}?`,
      text: `Promote the canary of ${name} in ${namespace}: the canary's spec becomes the model's and takes all of the traffic (now ${detail.canary?.trafficPercent ?? "?"} %).`,
      label: "Promote",
    }),
    abort: () => ({
      title: `Abort the canary of ${name}?`,
      text: `Abort the canary of ${name} in ${namespace}: the canary goes and the stable predictor takes all of the traffic back.`,
      label: "Abort canary",
    }),
    delete: () => ({
      title: `Delete ${name}?`,
      text: `Delete ${name} in ${namespace}: its predictor, service and ${revisions.length} revision${revisions.length === 1 ? "" : "s"} go. This cannot be undone.`,
      label: "Delete",
    }),
  };

  async function act(action) {
    const words = WORDS[action]();
    const method = action === "delete" ? "DELETE" : "POST";
    const path = action === "delete" ? base : `${base}/${action}`;
    const ok = await confirmAction({ title: words.title, text: words.text, curl: curlOf(method, path), confirmLabel: words.label });
    if (!ok) return;
    try {
      const answer = await call(method, path);
      if (action === "delete") {
        // Back to the list of the namespace the model was in, unless one was chosen there.
        if (rememberedNamespace() === null) rememberNamespace(namespace);
        carryNotice(`Deleted ${name} in ${namespace}.`);
        location.hash = "#/models";
        return;
      }
      const b = answer.body;
      notice(`${words.label}: done${b.revision ? ` (revision ${b.revision})` : ""}; ${name} is ${b.state ?? (b.ready ? "ready" : "changing")}.`);
      refreshAll();
    } catch (problem) {
      showProblem(problem, `${words.label} ${name}`);
    }
  }

  async function rollback(r) {
    const image = r.request?.image ?? r.request?.modelFormat?.name ?? "its request";
    const body = { revision: r.revision };
    const ok = await confirmAction({
      title: `Roll back ${name} to revision ${r.revision}?`,
      text: `Roll back ${name} in ${namespace} to revision ${r.revision}: its request (${image}) is applied again as a new revision, so the predictor rolls out again.`,
      curl: curlOf("POST", `${base}/rollback`, { body }),
      confirmLabel: "Roll back",
    });
    if (!ok) return;
    try {
      const answer = await call("POST", `${base}/rollback`, { body });
      notice(`Rolled back ${name} to revision ${r.revision}: now revision ${answer.body.revision ?? "?"}.`);
      refreshAll();
    } catch (problem) {
      showProblem(problem, `Roll back ${name}`);
    }
  }

  // -- start ----------------------------------------------------------------------

  (async () => {
    try {
      detail = (await call("GET", base)).body;
    } catch (problem) {
      if (problem.status === 404) {
        replace(view,
          h("h1", { id: "not-found" }, "Model not found"),
          h("p", {}, `There is no model ${name} in ${namespace}: `, problem.detail),
          h("p", {}, h("a", { href: "#/models" }, "The models")),
        );
      } else {
        replace(view, h("h1", {}, `${name} in ${namespace}`), h("p", { role: "alert", id: "detail-error" }, problem.detail));
      }
      return;
    }
    layout();
    replace(el.actions, Object.values(buttons));
    replace(el.curl, curlDetails(curlOf("GET", base, { query: { watch: "true" } })));
    showSummary();
    lastShown = { state: detail.state, generation: detail.generation };
    change(detail, "when the page opened");
    access(namespace)
      .then((answer) => {
        rights = answer;
        applyRights();
      })
      .catch((problem) => {
        el.note.textContent = `What you may do could not be checked: ${problem.detail}`;
      });
    loadRevisions();
    loadEvents();
    loadManifest();
    logLoad.addEventListener("click", loadLog);
    logFollow.addEventListener("change", () => (logFollow.checked ? loadLog() : logStream?.stop()));
    stream = follow(base, {}, {
      onState: (state, problem) => streamState(el.status, state, problem),
      onEvent: (event, data) => {
        if (event === "model") {
          if (data.state !== lastShown.state || data.generation !== lastShown.generation) {
            change(data, "");
            lastShown = { state: data.state, generation: data.generation };
          }
          detail = { ...detail, ...data };
          showSummary();
          applyRights();
          refreshAll();
        } else if (event === "deleted") {
          gone = true;
          change({ state: "deleting", generation: detail.generation, reason: "deleted" }, "");
          showSummary();
          applyRights();
          stream?.stop();
          streamState(el.status, "failed", { detail: "the model was deleted" });
        } else if (event === "error") {
          showProblem(data, "The model's stream failed");
        }
      },
    });
  })();

  function change(model, how) {
    const at = new Date();
    el.changes.append(
      h("li", {},
        h("time", { datetime: at.toISOString(), title: absoluteTime(at.toISOString()) }, at.toLocaleTimeString()), " ",
        badge(model.state), ` generation ${model.generation ?? "?"}`,
        model.reason ? ` — ${model.reason}${model.message ? `: ${model.message}` : ""}` : "",
        how ? h("span", { class: "muted" }, ` (${how})`) : null,
      ),
    );
  }

  return () => {
    stream?.stop();
    logStream?.stop();
    clearTimeout(refresh);
  };
}
