// Pure formatting and parsing: nothing here touches the page or the network.

const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

/** "3 minutes ago" for an RFC 3339 time (now in milliseconds); "" when unknown. */
export function relativeTime(iso, now = Date.now()) {
  const at = Date.parse(iso ?? "");
  if (Number.isNaN(at)) return "";
  const seconds = Math.round((at - now) / 1000);
  const formatter = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return formatter.format(Math.trunc(seconds / size), unit);
    }
  }
  return "";
}

/** The same time absolute, in UTC ("2026-12-07 03:00:00 UTC"); "" when unknown. */
export function absoluteTime(iso) {
  const at = Date.parse(iso ?? "");
  if (Number.isNaN(at)) return "";
  return new Date(at).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** Age as kubectl shows it: 45s, 12m, 3h, 5d. */
export function age(iso, now = Date.now()) {
  const at = Date.parse(iso ?? "");
  if (Number.isNaN(at)) return "";
  const seconds = Math.max(0, Math.floor((now - at) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

// A plain scalar may not start with a YAML indicator ("-", "@", ...): those are quoted.
const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_ ./@:-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|~|[-+]?[0-9][0-9_.eE+-]*)$/i;

function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const text = String(value);
  if (text !== "" && PLAIN.test(text) && !RESERVED.test(text) && !/[ :]$/.test(text) && !text.includes(": ")) {
    return text;
  }
  return JSON.stringify(text);
}

/** A JSON value as YAML (block style; strings quoted when YAML could misread them). */
export function toYaml(value, indent = "") {
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return value
      .map((item) => {
        const inner = toYaml(item, indent + "  ");
        return isBlock(item) ? `${indent}- ${inner.trimStart()}` : `${indent}- ${inner}`;
      })
      .join("\n");
  }
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 0) return "{}";
    return keys
      .map((key) => {
        const item = value[key];
        const name = scalar(key);
        if (isBlock(item)) return `${indent}${name}:\n${toYaml(item, indent + "  ")}`;
        return `${indent}${name}: ${toYaml(item, indent + "  ")}`;
      })
      .join("\n");
  }
  return scalar(value);
}

function isBlock(value) {
  if (Array.isArray(value)) return value.length > 0;
  return value !== null && typeof value === "object" && Object.keys(value).length > 0;
}

/**
 * "KEY=value" lines as an object: blank lines skipped, the first "=" splits.
 * Returns {values, problems}: a line without "=" or with an empty key is a problem
 * (its line number and text), never silently dropped.
 */
export function parseLines(text) {
  const values = {};
  const problems = [];
  String(text ?? "")
    .split(/\r\n|\r|\n/)
    .forEach((raw, index) => {
      const line = raw.trim();
      if (line === "") return;
      const equals = line.indexOf("=");
      if (equals <= 0) {
        problems.push(`line ${index + 1} is not KEY=value: ${line.slice(0, 80)}`);
        return;
      }
      values[line.slice(0, equals).trim()] = line.slice(equals + 1).trim();
    });
  return { values, problems };
}

/** An object as "KEY=value" lines (the inverse of parseLines). */
export function formatLines(values) {
  return Object.entries(values ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join("\n");
}

// CSI, OSC and other escape sequences a container may write (colours, titles).
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

/** A log's text without terminal escape sequences (they are shown as text anyway). */
export function stripAnsi(text) {
  return String(text).replace(ANSI, "");
}

/** Quote a word for a POSIX shell, as the curl lines show it. */
export function shellQuote(word) {
  const text = String(word);
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(text)) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * The curl command of an API call, the token left as $TOKEN (never the real one).
 * body: an object sent as JSON, or undefined.
 */
export function curlCommand(method, url, body, { authenticated = true } = {}) {
  const words = ["curl"];
  if (method !== "GET") words.push("-X", method);
  if (authenticated) words.push("-H", '"Authorization: Bearer $TOKEN"');
  if (body !== undefined) {
    words.push("-H", shellQuote("Content-Type: application/json"));
    words.push("-d", shellQuote(JSON.stringify(body)));
  }
  words.push(shellQuote(url));
  return words.join(" ");
}

/**
 * The leaves that differ between two JSON values, as "path: before → after"
 * (for a dry run's "what would change"). Paths use dots, as the API's errors do.
 */
export function changedPaths(before, after, path = "") {
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => changedPaths(before[key], after[key], path ? `${path}.${key}` : key));
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const show = (v) => (v === undefined ? "(none)" : JSON.stringify(v));
  return [`${path || "(all)"}: ${show(before)} → ${show(after)}`];
}

/** Models sorted by a column ("name", "namespace", "state", "age"), ties by namespace/name. */
export function sortModels(models, column, descending = false) {
  const key = (model) => {
    if (column === "age") return -Date.parse(model.createdAt ?? "") || 0;
    return String(model[column] ?? "");
  };
  const sorted = [...models].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    if (x < y) return -1;
    if (x > y) return 1;
    return `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1;
  });
  return descending ? sorted.reverse() : sorted;
}
