// The console's entry point: sign-in, the hash router, the pages.
//
// Routes: #/models, #/models/<namespace>/<name>, #/deploy, #/edit/<namespace>/<name>.
// Each page returns a cleanup function that stops its streams when left.

import { call, onUnauthorized, setToken, token } from "./api.js";
import { byId, h, replace } from "./dom.js";
import { clearMessages, forgetAccess } from "./shell.js";
import { modelsPage } from "./models.js";
import { detailPage } from "./detail.js";
import { deployPage } from "./deploy.js";

let leave = () => {};
let identity = null;

function signInPage(message) {
  leave();
  leave = () => {};
  const view = byId("view");
  const input = h("input", {
    id: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
  });
  const error = h("p", { id: "signin-error", class: "field-error", role: "alert" }, message ?? "");
  const form = h(
    "form",
    { id: "signin-form", class: "signin" },
    h("h1", {}, "Sign in"),
    h(
      "p",
      {},
      "Paste a Kubernetes bearer token; the console sends it to this API only, keeps it in this tab only, " +
        "and can do only what RBAC lets that identity do. For example: ",
      h("code", {}, "kubectl create token <service-account> -n <namespace>"),
      ". Behind an authenticating proxy that sets Authorization, no token is needed.",
    ),
    h("label", { for: "token" }, "Bearer token"),
    input,
    error,
    h("p", {}, h("button", { type: "submit", id: "signin-submit", class: "primary" }, "Sign in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    input.value = "";
    forgetAccess();
    await start();
  });
  replace(view, form);
  byId("signout").hidden = true;
  replace(byId("who"));
  input.focus();
}

async function start() {
  const had = token();
  try {
    identity = (await call("GET", "/access")).body;
  } catch (problem) {
    if (problem.status === 401) {
      setToken(null);
      signInPage(had ? `The token was not accepted: ${problem.detail}` : "");
      return;
    }
    replace(
      byId("view"),
      h("h1", {}, "The API cannot be used"),
      h("p", { id: "start-error", role: "alert" }, problem.detail ?? String(problem)),
      h("p", {}, h("button", { type: "button", onclick: () => start() }, "Try again")),
    );
    return;
  }
  const banner = byId("auth-banner");
  banner.hidden = identity.authentication !== "none";
  banner.textContent =
    identity.authentication === "none"
      ? "AUTH_MODE=none: callers are NOT authenticated; anyone who reaches this API can do what its own " +
        "Kubernetes identity may do. For local development only."
      : "";
  replace(byId("who"), identity.user ? `signed in as ${identity.user}` : "");
  byId("signout").hidden = !token();
  route();
}

function route() {
  leave();
  clearMessages();
  const view = byId("view");
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  for (const link of document.querySelectorAll(".top nav a")) link.removeAttribute("aria-current");
  let page;
  if (parts[0] === "models" && parts.length === 3) {
    page = () => detailPage(view, parts[1], parts[2]);
  } else if (parts[0] === "deploy") {
    byId("nav-deploy").setAttribute("aria-current", "page");
    page = () => deployPage(view, identity, null);
  } else if (parts[0] === "edit" && parts.length === 3) {
    page = () => deployPage(view, identity, { namespace: parts[1], name: parts[2] });
  } else if (parts[0] === "" || (parts[0] === "models" && parts.length === 1)) {
    byId("nav-models").setAttribute("aria-current", "page");
    page = () => modelsPage(view, identity);
  } else {
    page = () => {
      replace(view, h("h1", { id: "not-found" }, "No such page"), h("p", {}, h("a", { href: "#/models" }, "The models")));
      return () => {};
    };
  }
  leave = page() ?? (() => {});
  view.focus({ preventScroll: true });
}

// Any call answered 401 (a token that expired or was revoked while the page was open).
onUnauthorized(() => {
  const had = token();
  setToken(null);
  identity = null;
  signInPage(had ? "The API refused the token (expired or revoked): sign in again." : "");
});

window.addEventListener("hashchange", () => {
  if (identity !== null) route();
});
byId("signout").addEventListener("click", () => {
  setToken(null);
  identity = null;
  forgetAccess();
  signInPage("Signed out.");
});
start();
