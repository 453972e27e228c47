// The deploy form: built at run time from the API's own OpenAPI document
// (DeployRequest and the schemas it refers to), so a field or bound the API
// adds shows up here without being written twice. The API validates: "Dry run"
// asks it (dryRun=true) and every entry of a 422/409's errors[] appears next
// to its field; "Deploy" applies and goes to the model's page, which follows it
// live until it is ready or failed.

import { call, curlOf } from "./api.js";
import { h, replace } from "./dom.js";
import { changedPaths, formatLines, parseLines } from "./format.js";
import { carryNotice, curlDetails, rememberNamespace, rememberedNamespace, showProblem } from "./shell.js";

let documentCache = null;

function openapi() {
  documentCache ??= call("GET", "/openapi.json").then((r) => r.body);
  documentCache.catch(() => (documentCache = null));
  return documentCache;
}

/** "minReplicas" → "Min replicas"; "storageUri" → "Storage URI". */
function words(name) {
  const text = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .replace(/\buri\b/, "URI");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The schema behind $ref and a nullable anyOf, as the field shows it. */
function resolver(schemas) {
  const resolve = (schema) => {
    if (!schema) return {};
    if (schema.$ref) return resolve(schemas[schema.$ref.split("/").pop()]);
    if (schema.anyOf) {
      const real = schema.anyOf.filter((s) => s.type !== "null");
      if (real.length === 1) return { ...resolve(real[0]), description: schema.description ?? real[0].description, default: schema.default };
    }
    return schema;
  };
  return resolve;
}

function isMap(schema) {
  return schema.type === "object" && !schema.properties && (schema.patternProperties || schema.additionalProperties);
}

// The form's controls by field path, each knowing how to read and fill itself.
class Fields {
  constructor() {
    this.byPath = new Map();
  }

  add(path, control) {
    this.byPath.set(path, control);
  }
}

function errorSlot(path) {
  return h("p", { class: "field-error", dataset: { field: path }, id: `error-${path}` });
}

/** Renders the controls of one schema property (recursively for objects). */
function render(fields, resolve, path, schema, label) {
  const s = resolve(schema);
  const id = `field-${path.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  const help = s.description ? h("p", { class: "help", id: `${id}-help` }, s.description.split("\n\n")[0]) : null;
  const described = [help ? `${id}-help` : null, `error-${path}`].filter(Boolean).join(" ");
  if (s.type === "object" && s.properties) {
    return h("fieldset", { id: `${id}-set` },
      h("legend", {}, label),
      help,
      errorSlot(path),
      h("div", { class: "fields" }, Object.entries(s.properties).map(([name, sub]) => render(fields, resolve, `${path}.${name}`, sub, words(name)))),
    );
  }
  if (isMap(s) && s.propertyNames?.enum) {
    // A map of known keys (resources' cpu, memory, nvidia.com/gpu): one input each.
    const inputs = s.propertyNames.enum.map((key) => {
      const input = h("input", { id: `${id}-${key.replace(/[^a-z0-9]/gi, "-")}`, name: `${path}.${key}`, type: "text", "aria-describedby": `error-${path}.${key}`, autocomplete: "off" });
      fields.add(`${path}.${key}`, {
        read: () => input.value.trim() || undefined,
        fill: (v) => { input.value = v ?? ""; },
        element: input,
      });
      return h("div", { class: "field" }, h("label", { for: input.id }, `${label}: ${key}`), input, errorSlot(`${path}.${key}`));
    });
    fields.add(path, { group: true, keys: s.propertyNames.enum });
    return h("div", { class: "field-group" }, inputs);
  }
  let control;
  let read;
  let fill;
  if (isMap(s)) {
    control = h("textarea", { id, name: path, rows: "3", placeholder: "KEY=value, one per line", "aria-describedby": described });
    read = () => {
      const { values, problems } = parseLines(control.value);
      if (problems.length) throw { field: path, message: problems.join("; ") };
      return Object.keys(values).length ? values : undefined;
    };
    fill = (v) => { control.value = formatLines(v); };
  } else if (s.type === "array") {
    const strings = resolve(s.items).type === "string";
    control = h("textarea", { id, name: path, rows: "3", placeholder: strings ? "one per line" : "JSON", "aria-describedby": described });
    read = () => {
      const text = control.value.trim();
      if (!text) return undefined;
      if (strings) return text.split(/\r?\n/);
      try {
        return JSON.parse(text);
      } catch (error) {
        throw { field: path, message: `not JSON: ${error.message}` };
      }
    };
    fill = (v) => { control.value = v === undefined || v === null ? "" : strings ? v.join("\n") : JSON.stringify(v, null, 2); };
  } else if (s.type === "boolean") {
    control = h("input", { id, name: path, type: "checkbox", "aria-describedby": described });
    read = () => (control.checked === Boolean(s.default) ? undefined : control.checked);
    fill = (v) => { control.checked = Boolean(v ?? s.default); };
  } else if (s.enum) {
    control = h("select", { id, name: path, "aria-describedby": described },
      h("option", { value: "" }, s.default ? `default (${s.default})` : "the cluster's default"),
      s.enum.map((v) => h("option", { value: v }, v)));
    read = () => control.value || undefined;
    fill = (v) => { control.value = v ?? ""; };
  } else if (s.type === "integer" || s.type === "number") {
    control = h("input", { id, name: path, type: "number", inputmode: "numeric", min: s.minimum, max: s.maximum, "aria-describedby": described });
    read = () => (control.value.trim() === "" ? undefined : Number(control.value));
    fill = (v) => { control.value = v ?? ""; };
  } else {
    control = h("input", { id, name: path, type: "text", maxlength: s.maxLength, autocomplete: "off", spellcheck: "false", "aria-describedby": described });
    read = () => control.value.trim() || undefined;
    fill = (v) => { control.value = v ?? ""; };
  }
  fields.add(path, { read, fill, element: control });
  const wide = control.tagName === "TEXTAREA";
  return h("div", { class: wide ? "field wide" : "field" }, h("label", { for: id }, label), control, help, errorSlot(path));
}

/** The JSON body the form describes (empty fields left out). Throws {field, message}. */
function collect(fields) {
  const body = {};
  for (const [path, control] of fields.byPath) {
    if (control.group) continue;
    const value = control.read();
    if (value === undefined) continue;
    const parts = path.split(".");
    // Map keys with dots (nvidia.com/gpu) belong to their group's path.
    let target = body;
    let keys = parts;
    for (const [groupPath, group] of fields.byPath) {
      if (group.group && path.startsWith(`${groupPath}.`)) keys = [...groupPath.split("."), path.slice(groupPath.length + 1)];
    }
    for (const key of keys.slice(0, -1)) target = target[key] ??= {};
    target[keys.at(-1)] = value;
  }
  return body;
}

function fillFrom(fields, request) {
  for (const [path, control] of fields.byPath) {
    if (control.group) continue;
    let value = request;
    let keys = path.split(".");
    for (const [groupPath, group] of fields.byPath) {
      if (group.group && path.startsWith(`${groupPath}.`)) keys = [...groupPath.split("."), path.slice(groupPath.length + 1)];
    }
    for (const key of keys) value = value?.[key];
    control.fill(value);
  }
}

export function deployPage(view, identity, editing) {
  replace(view, h("p", { class: "loading" }, "Loading the deploy form…"));
  let alive = true;
  (async () => {
    let doc;
    let original = null;
    try {
      doc = await openapi();
      if (editing) {
        const base = `/models/${encodeURIComponent(editing.namespace)}/${encodeURIComponent(editing.name)}`;
        const history = (await call("GET", `${base}/revisions`)).body.revisions;
        original = history.find((r) => r.request)?.request ?? null;
        if (original === null) throw { detail: `${editing.name} has no recorded request to edit (it was not deployed through this API).` };
      }
    } catch (problem) {
      if (!alive) return;
      replace(view, h("h1", {}, editing ? `Edit ${editing.name}` : "Deploy a model"), h("p", { role: "alert", id: "deploy-error" }, problem.detail ?? String(problem)));
      return;
    }
    if (!alive) return;
    const schemas = doc.components?.schemas ?? {};
    const deploySchema = schemas.DeployRequest;
    if (!deploySchema) {
      replace(view, h("h1", {}, "Deploy a model"), h("p", { role: "alert" }, "This API's document has no DeployRequest: deploying is served by another function."));
      return;
    }
    const resolve = resolver(schemas);
    const fields = new Fields();
    const first = ["name", "namespace"];
    const names = [...first, ...Object.keys(deploySchema.properties).filter((n) => !first.includes(n))];
    const groups = {
      "The model": ["name", "namespace", "deploymentMode", "image", "modelFormat", "storageUri", "runtime"],
      Scaling: ["minReplicas", "maxReplicas", "scaleTarget", "scaleMetric", "resources"],
      Canary: ["canary", "canaryTrafficPercent"],
      "Environment and metadata": ["envs", "labels", "annotations"],
    };
    const placed = new Set(Object.values(groups).flat());
    groups["More"] = names.filter((n) => !placed.has(n));
    const fieldsets = Object.entries(groups).map(([legend, members]) =>
      h("fieldset", {},
        h("legend", {}, legend),
        h("div", { class: "fields" },
          members.filter((n) => deploySchema.properties[n]).map((n) => render(fields, resolve, n, deploySchema.properties[n], words(n)))),
      ),
    );
    const general = h("div", { id: "form-errors", class: "field-error", role: "alert" });
    const result = h("div", { id: "dry-run-result", class: "result", role: "status" });
    const curl = h("div", { id: "deploy-curl" });
    const dryRun = h("button", { type: "button", id: "deploy-dry-run" }, "Dry run");
    const submit = h("button", { type: "submit", id: "deploy-submit", class: "primary" }, editing ? "Apply the change" : "Deploy");
    const form = h("form", { id: "deploy-form", class: "deploy", novalidate: true },
      general, fieldsets, result,
      h("div", { class: "actions" }, dryRun, submit, h("a", { href: editing ? `#/models/${encodeURIComponent(editing.namespace)}/${encodeURIComponent(editing.name)}` : "#/models" }, "Cancel")),
      curl,
    );
    const namespaces = h("datalist", { id: "namespace-choices" }, (identity.namespaces ?? []).map((ns) => h("option", { value: ns })));
    replace(view,
      h("section", { id: "deploy-page", "aria-labelledby": "deploy-title" },
        h("h1", { id: "deploy-title" }, editing ? `Edit ${editing.name} in ${editing.namespace}` : "Deploy a model"),
        h("p", { class: "muted" }, "Fields follow this API's OpenAPI document; the API checks every value (use Dry run to ask it without changing anything)."),
        namespaces,
        form,
      ),
    );
    fields.byPath.get("namespace")?.element.setAttribute("list", "namespace-choices");
    if (editing) {
      fillFrom(fields, original);
      for (const path of ["name", "namespace"]) fields.byPath.get(path).element.readOnly = true;
    } else {
      const ns = fields.byPath.get("namespace");
      const remembered = rememberedNamespace();
      ns?.fill(remembered || (identity.namespaces ?? [])[0] || "default");
    }

    function clearErrors() {
      general.textContent = "";
      for (const slot of form.querySelectorAll(".field-error[data-field]")) slot.textContent = "";
      for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    }

    function showErrors(issues) {
      const unplaced = [];
      let focused = false;
      for (const issue of issues) {
        const parts = issue.field.split(".");
        let slot = null;
        for (let n = parts.length; n > 0 && slot === null; n -= 1) {
          slot = form.querySelector(`.field-error[data-field="${CSS.escape(parts.slice(0, n).join("."))}"]`);
        }
        if (slot === null) {
          unplaced.push(`${issue.field}: ${issue.message}`);
          continue;
        }
        slot.textContent = slot.textContent ? `${slot.textContent}; ${issue.message}` : issue.message;
        const input = fields.byPath.get(slot.dataset.field)?.element;
        if (input) {
          input.setAttribute("aria-invalid", "true");
          if (!focused) {
            input.focus();
            focused = true;
          }
        }
      }
      general.textContent = unplaced.join("\n");
    }

    function body() {
      return collect(fields);
    }

    function refreshCurl() {
      try {
        replace(curl, curlDetails(curlOf("POST", "/deploy", { body: body() })));
      } catch {
        replace(curl);
      }
    }
    form.addEventListener("input", refreshCurl);
    refreshCurl();

    async function send(dry) {
      clearErrors();
      replace(result);
      let request;
      try {
        request = body();
      } catch (issue) {
        showErrors([issue]);
        return;
      }
      try {
        const answer = await call("POST", "/deploy", { body: request, query: { dryRun: dry ? "true" : "" } });
        const b = answer.body;
        if (dry) {
          const changes = original ? changedPaths(original, request) : [];
          replace(result,
            h("p", {}, `Dry run: the cluster accepts it; ${b.namespace}/${b.name} would be ${b.action}${b.generation ? ` (generation ${b.generation})` : ""}. Nothing was changed.`),
            original
              ? changes.length
                ? h("ul", {}, changes.map((c) => h("li", {}, c)))
                : h("p", {}, "Nothing differs from the current request.")
              : null,
          );
          return;
        }
        rememberNamespace(b.namespace);
        carryNotice(`${b.action === "created" ? "Deployed" : "Updated"} ${b.name} in ${b.namespace}${b.revision ? ` as revision ${b.revision}` : ""}; following it until it is ready or failed.`);
        location.hash = `#/models/${encodeURIComponent(b.namespace)}/${encodeURIComponent(b.name)}`;
      } catch (problem) {
        if (problem.errors?.length) showErrors(problem.errors);
        else general.textContent = problem.detail ?? String(problem);
        showProblem(problem, dry ? "The dry run was refused" : "The deploy was refused");
      }
    }
    dryRun.addEventListener("click", () => send(true));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(false);
    });
  })();
  return () => {
    alive = false;
  };
}
