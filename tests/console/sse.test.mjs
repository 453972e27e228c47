// Unit tests of the console's event-stream parser (sse.js), run by `node --test`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { EventStreamParser } from "../../lib/src/kserve_functions/console/static/sse.js";

test("events as the API sends them, split anywhere", () => {
  const text = 'retry: 1000\n\n: keep-alive\n\nid: 41\nevent: model\ndata: {"name":"iris"}\n\nid: 42\n\nevent: synced\ndata: {}\n\n';
  for (let cut = 0; cut <= text.length; cut += 1) {
    const parser = new EventStreamParser();
    const events = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
    assert.deepEqual(
      events,
      [
        { event: "model", data: '{"name":"iris"}', id: "41" },
        { event: null, data: null, id: "42" },
        { event: "synced", data: "{}", id: "42" },
      ],
      `cut at ${cut}`,
    );
    assert.equal(parser.retry, 1000);
    assert.equal(parser.lastEventId, "42");
  }
});

test("CR, LF and CRLF line ends; data lines join; a field without a space", () => {
  const parser = new EventStreamParser();
  const events = parser.push("data:one\r\ndata: two\rdata:  three\n\r\n");
  assert.deepEqual(events, [{ event: "message", data: "one\ntwo\n three", id: "" }]);
});

test("a CR at the end of a chunk waits for a possible LF", () => {
  const parser = new EventStreamParser();
  assert.deepEqual(parser.push("data: x\r"), []);
  assert.deepEqual(parser.push("\n\r\n"), [{ event: "message", data: "x", id: "" }]);
});

test("an unfinished event is not dispatched; a bad retry or an id with NUL is ignored", () => {
  const parser = new EventStreamParser();
  assert.deepEqual(parser.push("retry: soon\nid: a\u0000b\ndata: partial\n"), []);
  assert.equal(parser.retry, null);
  assert.equal(parser.lastEventId, "");
});
