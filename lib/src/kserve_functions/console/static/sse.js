// Server-Sent Events, parsed from the chunks of a streaming fetch.
//
// EventSource cannot send an Authorization header, so the console reads a
// watch stream with fetch() and parses it here, as the HTML standard's
// "interpret an event stream" algorithm does: lines end in LF, CR or CRLF;
// "data" lines join with LF; "id" sets the last event id (even on an id-only
// frame, which the API sends to advance it); "retry" sets the reconnection
// delay; a line starting with ":" is a comment (the API's heartbeat).

/** Parses an event stream incrementally: push() text, get whole events back. */
export class EventStreamParser {
  constructor() {
    this.buffer = "";
    this.data = [];
    this.event = "";
    this.id = null; // the id of the frame being read, if it set one
    this.lastEventId = "";
    this.retry = null;
  }

  /**
   * Feeds decoded text; returns the events completed by it, each
   * {event, data, id} (event defaults to "message"; id is the last event id).
   * An id-only frame yields {event: null, data: null, id} so a caller can
   * remember where the stream is.
   */
  push(text) {
    this.buffer += text;
    const events = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (match === null) break;
      // A CR at the very end may be the first half of a CRLF: wait for more.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const done = this.line(line);
      if (done !== null) events.push(done);
    }
    return events;
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) {
      this.lastEventId = value;
      this.id = value;
    } else if (field === "retry" && /^[0-9]+$/.test(value)) this.retry = Number(value);
    return null;
  }

  dispatch() {
    const hadData = this.data.length > 0;
    const idOnly = !hadData && this.id !== null;
    const event = this.event || "message";
    const data = this.data.join("\n");
    this.data = [];
    this.event = "";
    this.id = null;
    if (hadData) return { event, data, id: this.lastEventId };
    if (idOnly) return { event: null, data: null, id: this.lastEventId };
    return null;
  }
}
