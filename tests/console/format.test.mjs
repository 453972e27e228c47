// Unit tests of the console's pure formatting (format.js), run by `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  absoluteTime,
  age,
  changedPaths,
  curlCommand,
  formatLines,
  parseLines,
  relativeTime,
  shellQuote,
  sortModels,
  stripAnsi,
  toYaml,
} from "../../lib/src/kserve_functions/console/static/format.js";

const NOW = Date.parse("2026-12-07T03:00:00Z");

test("relative and absolute times", () => {
  assert.equal(relativeTime("2026-12-07T02:57:00Z", NOW), "3 minutes ago");
  assert.equal(relativeTime("2026-12-07T03:00:00Z", NOW), "now");
  assert.equal(relativeTime("2026-12-05T03:00:00Z", NOW), "2 days ago");
  assert.equal(relativeTime("not a time", NOW), "");
  assert.equal(relativeTime(undefined, NOW), "");
  assert.equal(absoluteTime("2026-12-07T02:57:00.123456Z"), "2026-12-07 02:57:00 UTC");
});

test("age as kubectl shows it", () => {
  assert.equal(age("2026-12-07T02:59:15Z", NOW), "45s");
  assert.equal(age("2026-12-07T02:48:00Z", NOW), "12m");
  assert.equal(age("2026-12-06T23:00:00Z", NOW), "4h");
  assert.equal(age("2026-12-01T03:00:00Z", NOW), "6d");
  assert.equal(age("2026-12-07T03:00:09Z", NOW), "0s", "a clock ahead of ours is not a negative age");
});

test("YAML of an InferenceService-like object", () => {
  const yaml = toYaml({
    apiVersion: "serving.kserve.io/v1beta1",
    metadata: { name: "iris", labels: {}, annotations: { note: "<img src=x>", "a: b": "yes" } },
    spec: { predictor: { containers: [{ name: "c", args: ["--port", "8080"] }], minReplicas: 0 } },
    status: null,
  });
  assert.equal(
    yaml,
    [
      "apiVersion: serving.kserve.io/v1beta1",
      "metadata:",
      "  name: iris",
      "  labels: {}",
      "  annotations:",
      '    note: "<img src=x>"',
      '    "a: b": "yes"',
      "spec:",
      "  predictor:",
      "    containers:",
      "      - name: c",
      "        args:",
      '          - "--port"',
      '          - "8080"',
      "    minReplicas: 0",
      "status: null",
    ].join("\n"),
  );
});

test("YAML quotes what YAML would read as another type", () => {
  for (const word of ["true", "no", "null", "1.5", "~", "", " padded", "x: y", "#comment", "ends:", "-1x", "@at"]) {
    assert.equal(toYaml({ k: word }), `k: ${JSON.stringify(word)}`, word);
  }
});

test("KEY=value lines both ways, problems named by line", () => {
  assert.deepEqual(parseLines("A=1\n\n B = two=2 \r\nC="), {
    values: { A: "1", B: "two=2", C: "" },
    problems: [],
  });
  assert.deepEqual(parseLines("ok=1\nno equals\n=empty key").problems, [
    "line 2 is not KEY=value: no equals",
    "line 3 is not KEY=value: =empty key",
  ]);
  assert.equal(formatLines({ A: "1", B: "x=y" }), "A=1\nB=x=y");
  assert.deepEqual(parseLines(formatLines({ A: "1", B: "x=y" })).values, { A: "1", B: "x=y" });
});

test("terminal escapes are removed from log text", () => {
  assert.equal(stripAnsi("\u001b[31mred\u001b[0m <b>x</b>"), "red <b>x</b>");
  assert.equal(stripAnsi("\u001b]0;title\u0007after"), "after");
});

test("curl never carries the token and quotes for the shell", () => {
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote("http://h/models?a=1&b=2"), "'http://h/models?a=1&b=2'");
  assert.equal(
    curlCommand("POST", "http://h/deploy", { name: "iris" }),
    `curl -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"name":"iris"}' http://h/deploy`,
  );
  assert.equal(curlCommand("GET", "http://h/models"), `curl -H "Authorization: Bearer $TOKEN" http://h/models`);
});

test("what a change would change, field by field", () => {
  assert.deepEqual(
    changedPaths({ name: "iris", image: "r/m:1", envs: { A: "1" } }, { name: "iris", image: "r/m:2", envs: { A: "1", B: "2" } }),
    ['envs.B: (none) → "2"', 'image: "r/m:1" → "r/m:2"'],
  );
  assert.deepEqual(changedPaths({ a: [1, 2] }, { a: [1, 2] }), []);
});

test("models sort by column, ties by namespace/name", () => {
  const models = [
    { name: "b", namespace: "x", state: "ready", createdAt: "2026-12-07T01:00:00Z" },
    { name: "a", namespace: "y", state: "failed", createdAt: "2026-12-07T02:00:00Z" },
    { name: "a", namespace: "x", state: "ready", createdAt: "2026-12-07T00:00:00Z" },
  ];
  const keys = (list) => list.map((m) => `${m.namespace}/${m.name}`);
  assert.deepEqual(keys(sortModels(models, "name")), ["x/a", "y/a", "x/b"]);
  assert.deepEqual(keys(sortModels(models, "state")), ["y/a", "x/a", "x/b"]);
  assert.deepEqual(keys(sortModels(models, "age")), ["y/a", "x/b", "x/a"]);
  assert.deepEqual(keys(sortModels(models, "name", true)), ["x/b", "y/a", "x/a"]);
});
