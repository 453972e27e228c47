// Building the page: every string from the cluster goes in as text, never as HTML.
//
// h() is the only way the console makes elements. Children that are strings
// become text nodes; attributes are set one by one (never a markup string), so
// a model annotated "<img src=x onerror=…>" shows those characters, nothing more.

/**
 * An element: h("a", {href: "#/x", class: "link"}, "text", child, …).
 * Attributes whose value is false, null or undefined are left out; true sets
 * an empty attribute; "on…" keys that hold functions become listeners; "dataset"
 * takes an object of data-* values.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") {
      for (const [key, data] of Object.entries(value)) element.dataset[key] = String(data);
    } else if (name === "value") {
      element.value = String(value);
    } else if (name === "checked") {
      element.checked = Boolean(value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends children (strings as text, nested arrays flattened, null skipped). */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces every child of parent with children. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** The element with this id; throws when the page lacks it (a bug, not a state). */
export function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element;
}

/** A <time> showing a relative time with the absolute one as its title. */
export function timeElement(iso, relative, absolute) {
  if (!iso) return h("span", {}, "—");
  return h("time", { datetime: iso, title: absolute }, relative);
}
