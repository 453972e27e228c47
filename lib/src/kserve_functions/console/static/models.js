// The models page: every model of the chosen namespace (or all), live from
// GET /models?watch=true — no polling. Rows are kept by namespace/name and
// updated in place; the name filter hides rows, the label selector re-opens
// the stream with the API's own labelSelector.

import { follow, curlOf } from "./api.js";
import { h, replace, timeElement } from "./dom.js";
import { absoluteTime, age, relativeTime, sortModels } from "./format.js";
import { badge, curlDetails, notice, rememberNamespace, rememberedNamespace, showProblem, streamState } from "./shell.js";

export function modelsPage(view, identity) {
  const listable = identity.namespaces ?? null; // absent: every namespace
  const remembered = rememberedNamespace();
  const options = listable === null ? ["", ...new Set(["default"])] : listable;
  let namespace = remembered !== null && (listable === null || listable.includes(remembered))
    ? remembered
    : listable === null ? "" : (listable.includes("default") ? "default" : listable[0] ?? "default");

  const select = h("select", { id: "namespace" });
  const fillNamespaces = (seen) => {
    const names = [...new Set([...options, ...seen, namespace].filter(Boolean))].sort();
    const choices = listable === null ? ["", ...names] : names;
    // The same choices (not merely as many: a namespace seen may replace "default").
    if ([...select.options].map((o) => o.value).join("\n") === choices.join("\n")) return;
    replace(select, choices.map((ns) => h("option", { value: ns }, ns === "" ? "all namespaces" : ns)));
    select.value = namespace;
  };
  const nameFilter = h("input", { id: "filter-name", type: "search", placeholder: "part of a name" });
  const selector = h("input", { id: "filter-selector", type: "search", placeholder: "team=a,env!=prod" });
  const status = h("span", { id: "stream-status", class: "stream-state", role: "status" });
  const count = h("span", { id: "models-count", class: "muted" });
  const body = h("tbody", { role: "rowgroup" });
  const empty = h("p", { id: "models-empty", class: "empty", hidden: true });
  const failure = h("p", { id: "models-error", role: "alert", hidden: true });
  const curl = h("div");
  let sort = { column: "name", descending: false };
  const sortButton = (column, label) =>
    h("button", { type: "button", dataset: { sort: column }, onclick: () => sortBy(column) }, label);
  const headers = {
    name: sortButton("name", "Name"),
    namespace: sortButton("namespace", "Namespace"),
    state: sortButton("state", "State"),
    age: sortButton("age", "Age"),
  };
  const table = h(
    "table",
    // Explicit roles: the stylesheet lays the rows out as a grid (see style.css).
    { id: "models-table", class: "models", role: "table", "aria-label": "Models" },
    h(
      "thead",
      { role: "rowgroup" },
      h(
        "tr",
        { role: "row" },
        h("th", { role: "columnheader", scope: "col", "aria-sort": "ascending" }, headers.name),
        h("th", { role: "columnheader", scope: "col" }, headers.namespace),
        h("th", { role: "columnheader", scope: "col" }, headers.state),
        h("th", { role: "columnheader", scope: "col" }, "Reason"),
        h("th", { role: "columnheader", scope: "col" }, "URL"),
        h("th", { role: "columnheader", scope: "col" }, "Mode"),
        h("th", { role: "columnheader", scope: "col" }, "Runtime / format / image"),
        h("th", { role: "columnheader", scope: "col" }, headers.age),
        h("th", { role: "columnheader", scope: "col" }, "Last changed by"),
      ),
    ),
    body,
  );
  replace(
    view,
    h("section", { id: "models-page", "aria-labelledby": "models-title" },
      h("h1", { id: "models-title" }, "Models"),
      h("div", { class: "toolbar" },
        h("div", {}, h("label", { for: "namespace" }, "Namespace"), select),
        h("div", {}, h("label", { for: "filter-name" }, "Filter by name"), nameFilter),
        h("div", {}, h("label", { for: "filter-selector" }, "Label selector"), selector),
        h("a", { id: "new-model", href: "#/deploy" }, "Deploy a model"),
        status,
        count,
      ),
      failure,
      h("div", { class: "table-wrap" }, table),
      empty,
      curl,
    ),
  );

  const models = new Map(); // "ns/name" -> summary
  const rows = new Map(); // "ns/name" -> {row, cells}
  let syncing = null; // keys seen since a (re)sync began; null when synced
  let synced = false;
  let stream = null;
  let frame = 0;
  const seenNamespaces = new Set();

  function rowFor(key) {
    let entry = rows.get(key);
    if (entry) return entry;
    const cells = {
      link: h("a", { class: "model-link" }),
      namespace: h("td", { role: "cell", class: "namespace", "data-label": "Namespace" }),
      state: h("td", { role: "cell", class: "state", "data-label": "State" }),
      reason: h("td", { role: "cell", class: "reason", "data-label": "Reason" }),
      url: h("td", { role: "cell", class: "url-cell", "data-label": "URL" }),
      mode: h("td", { role: "cell", class: "mode", "data-label": "Mode" }),
      runtime: h("td", { role: "cell", class: "runtime", "data-label": "Runs" }),
      age: h("td", { role: "cell", class: "age", "data-label": "Age" }),
      changedBy: h("td", { role: "cell", class: "changed-by", "data-label": "Changed by" }),
    };
    const row = h(
      "tr",
      { role: "row", dataset: { model: key } },
      h("th", { role: "rowheader", scope: "row", class: "name" }, cells.link),
      cells.namespace, cells.state, cells.reason, cells.url, cells.mode, cells.runtime, cells.age, cells.changedBy,
    );
    entry = { row, cells, shown: "" };
    rows.set(key, entry);
    return entry;
  }

  function fill(entry, model) {
    const shown = JSON.stringify(model);
    if (entry.shown === shown) return;
    entry.shown = shown;
    const { cells } = entry;
    cells.link.href = `#/models/${encodeURIComponent(model.namespace)}/${encodeURIComponent(model.name)}`;
    cells.link.textContent = model.name;
    cells.namespace.textContent = model.namespace;
    replace(cells.state, badge(model.state));
    cells.reason.textContent = [model.reason, model.message].filter(Boolean).join(": ");
    replace(
      cells.url,
      model.url
        ? [
            h("span", { class: "url" }, model.url),
            h("button", {
              type: "button",
              class: "copy-url",
              "aria-label": `Copy the URL of ${model.name}`,
              onclick: () => copy(model.url),
            }, "Copy"),
          ]
        : h("span", { class: "muted" }, "none yet"),
    );
    cells.mode.textContent = model.deploymentMode ?? "";
    cells.runtime.textContent = model.runtime || model.modelFormat || model.image || "";
    replace(cells.age, timeElement(model.createdAt, age(model.createdAt), absoluteTime(model.createdAt)));
    replace(
      cells.changedBy,
      model.changedBy
        ? [model.changedBy, " ", h("span", { class: "muted" }, relativeTime(model.changedAt))]
        : h("span", { class: "muted" }, "—"),
    );
  }

  function render() {
    frame = 0;
    const wanted = nameFilter.value.trim().toLowerCase();
    const shown = sortModels([...models.values()], sort.column, sort.descending).filter(
      (m) => wanted === "" || m.name.toLowerCase().includes(wanted),
    );
    const order = shown.map((m) => `${m.namespace}/${m.name}`);
    const current = [...body.children].map((row) => row.dataset.model);
    for (const model of shown) fill(rowFor(`${model.namespace}/${model.name}`), model);
    if (order.join("\n") !== current.join("\n")) {
      body.replaceChildren(...order.map((key) => rows.get(key).row));
    }
    for (const key of [...rows.keys()]) if (!models.has(key)) rows.delete(key);
    count.textContent = `${shown.length} of ${models.size} model${models.size === 1 ? "" : "s"}`;
    empty.hidden = !(synced && shown.length === 0);
    empty.textContent = models.size === 0
      ? `No models ${namespace ? `in ${namespace}` : "in any namespace you may list"} yet. Deploy one.`
      : "No model matches the filter.";
    fillNamespaces(seenNamespaces);
  }

  function later() {
    if (!synced) {
      // The first listing arrives as one event per model: lay the table out once,
      // at "synced", not once a frame while it grows (1,000 rows laid out 20 times).
      count.textContent = `loading… ${models.size} model${models.size === 1 ? "" : "s"}`;
      return;
    }
    if (frame === 0) frame = requestAnimationFrame(render);
  }

  function open() {
    stream?.stop();
    models.clear();
    synced = false;
    syncing = new Set();
    failure.hidden = true;
    const query = { namespace: namespace === "" ? "*" : namespace, labelSelector: selector.value.trim() };
    replace(curl, curlDetails(curlOf("GET", "/models", { query: { ...query, watch: "true" } })));
    stream = follow("/models", query, {
      onState: (state, problem) => {
        streamState(status, state, problem);
        if (state === "failed" && problem) {
          failure.hidden = false;
          failure.textContent = problem.detail;
        }
      },
      onEvent: (event, data) => {
        if (event === "model") {
          const key = `${data.namespace}/${data.name}`;
          models.set(key, data);
          seenNamespaces.add(data.namespace);
          syncing?.add(key);
        } else if (event === "deleted") {
          models.delete(`${data.namespace}/${data.name}`);
        } else if (event === "resync" || event === "restart") {
          syncing = new Set();
        } else if (event === "synced") {
          if (syncing) for (const key of [...models.keys()]) if (!syncing.has(key)) models.delete(key);
          syncing = null;
          synced = true;
        } else if (event === "error") {
          showProblem(data, "The watch stream failed");
        }
        later();
      },
    });
  }

  function sortBy(column) {
    sort = { column, descending: sort.column === column ? !sort.descending : false };
    for (const [name, button] of Object.entries(headers)) {
      const th = button.parentElement;
      if (name === column) th.setAttribute("aria-sort", sort.descending ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
    render();
  }

  async function copy(url) {
    try {
      await navigator.clipboard.writeText(url);
      notice(`Copied ${url}`);
    } catch {
      notice(`Copy this URL: ${url}`);
    }
  }

  select.addEventListener("change", () => {
    namespace = select.value;
    rememberNamespace(namespace);
    open();
  });
  nameFilter.addEventListener("input", later);
  let typing = 0;
  selector.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(open, 400);
  });
  fillNamespaces(new Set(options.filter(Boolean)));
  select.value = namespace;
  open();
  const ages = setInterval(() => {
    for (const entry of rows.values()) entry.shown = "";
    later();
  }, 30000);
  return () => {
    stream?.stop();
    clearInterval(ages);
    clearTimeout(typing);
    if (frame) cancelAnimationFrame(frame);
  };
}
