// The sponsor page (GET /api/portal): lists the signed-in user's guests (or every guest for a caller holding
// Guests.Read, with the next sweep's plan) and sends a sponsor's decision, Keep or Remove, after a confirmation.
// Sign-in is App Service authentication's: an API answer of 401 sends the browser to /.auth/login/aad once.
// Everything shown is set as text (never parsed as HTML); the page runs under a Content-Security-Policy that allows
// only this script and its style sheet.
"use strict";

(function () {
  const API = "/api";
  const LOGIN = "/.auth/login/aad";
  const SIGN_IN_MARK = "guest-lifecycle-sign-in";
  const MAX_PAGES = 50;
  const LIVE = new Set(["invited", "active"]);
  const MANAGE = "Guests.Manage";
  const READ = "Guests.Read";

  const $ = (id) => document.getElementById(id);
  let caller = null;
  let pending = null; // {guest, decision, button}

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || `the server answered ${status}`);
      this.status = status;
      this.code = error.code || "";
    }
  }

  async function api(path, options) {
    const response = await fetch(API + path, {credentials: "same-origin", headers: {Accept: "application/json"},
                                              ...options});
    if (response.status === 401) {
      signIn();
      throw new ApiError(401, null);
    }
    const text = await response.text();
    const body = text ? JSON.parse(text) : null;
    if (!response.ok) {
      throw new ApiError(response.status, body);
    }
    return body;
  }

  // Off to the sign-in page, unless this browser was sent there moments ago (a sign-in that did not stick).
  function signIn() {
    const last = Number(sessionStorage.getItem(SIGN_IN_MARK) || 0);
    if (Date.now() - last < 30000) {
      showProblem("Signing in did not work: the app still does not know who you are. Check that this browser " +
                  "accepts cookies from this site, then reload the page.");
      return;
    }
    sessionStorage.setItem(SIGN_IN_MARK, String(Date.now()));
    const back = window.location.pathname + window.location.search;
    window.location.assign(`${LOGIN}?post_login_redirect_uri=${encodeURIComponent(back)}`);
  }

  function showProblem(text) {
    const box = $("problem");
    box.textContent = text;
    box.hidden = false;
  }

  function say(text) {
    $("status").textContent = text;
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function cell(label, ...children) {
    const td = document.createElement("td");
    td.dataset.label = label;
    for (const child of children) td.append(child);
    return td;
  }

  const dateFormat = new Intl.DateTimeFormat(undefined, {year: "numeric", month: "short", day: "numeric"});

  function when(iso) {
    if (!iso) return null;
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? null : date;
  }

  function daysFrom(date) {
    return Math.round((date.getTime() - Date.now()) / 86400000);
  }

  function expiry(guest) {
    const date = when(guest.expiresAt);
    if (!date) return element("span", "No end date");
    const days = daysFrom(date);
    const text = days >= 0 ? `${dateFormat.format(date)} (in ${days} day${days === 1 ? "" : "s"})`
                           : `${dateFormat.format(date)} (ended)`;
    const span = element("span", text, days <= 14 ? "soon" : "");
    const time = document.createElement("time");
    time.dateTime = guest.expiresAt;
    time.append(span);
    return time;
  }

  function attestationDue(guest) {
    const date = when(guest.attestationDueAt);
    if (!date) return element("span", "Not required");
    const days = daysFrom(date);
    const text = days >= 0 ? `${dateFormat.format(date)} (in ${days} day${days === 1 ? "" : "s"})`
                           : `${dateFormat.format(date)} (overdue)`;
    return element("span", text, days <= 14 ? "soon" : "");
  }

  function lastSignIn(guest) {
    const date = when(guest.lastSignInAt);
    return element("span", date ? dateFormat.format(date) : "Not recorded");
  }

  function groups(guest) {
    const ids = guest.groups || [];
    if (!ids.length) return element("span", "None");
    const details = element("details", null, "groups");
    details.append(element("summary", `${ids.length} group${ids.length === 1 ? "" : "s"}`));
    const list = element("ul");
    for (const id of ids) list.append(element("li", id));
    details.append(list);
    return details;
  }

  function canDecide(guest) {
    if (!LIVE.has(guest.state)) return false;
    if (caller.roles.includes(MANAGE)) return true;
    return Boolean(caller.id) && (guest.sponsors || []).map((s) => s.toLowerCase()).includes(caller.id);
  }

  function nameOf(guest) {
    return guest.displayName || guest.email;
  }

  function guestRow(guest, note) {
    const row = document.createElement("tr");
    row.id = `guest-${guest.id}`;
    const who = document.createElement("div");
    who.append(element("span", nameOf(guest), "guest-name"), element("span", guest.email, "guest-mail"));
    const state = element("span", guest.state, `state state-${guest.state}`);
    const actions = cell("Decision");
    actions.className = "actions";
    if (canDecide(guest)) {
      const keep = element("button", "Keep", "button");
      keep.type = "button";
      keep.setAttribute("aria-label", `Keep ${nameOf(guest)}`);
      keep.addEventListener("click", () => ask(guest, "keep", keep));
      const remove = element("button", "Remove", "button danger");
      remove.type = "button";
      remove.setAttribute("aria-label", `Remove ${nameOf(guest)}`);
      remove.addEventListener("click", () => ask(guest, "remove", remove));
      actions.append(keep, remove);
      if (note) actions.append(element("span", note, "decided"));
    } else {
      actions.append(element("span", LIVE.has(guest.state) ? "" : "No decision needed", "decided"));
    }
    row.append(cell("Guest", who), cell("State", state), cell("Access ends", expiry(guest)),
               cell("Attestation due", attestationDue(guest)), cell("Last sign-in", lastSignIn(guest)),
               cell("Groups", groups(guest)), actions);
    return row;
  }

  // Soonest end of access first; a guest without an end date last.
  function byExpiry(a, b) {
    const end = (guest) => (when(guest.expiresAt) || new Date(8.64e15)).getTime();
    return end(a) - end(b) || nameOf(a).localeCompare(nameOf(b));
  }

  function showGuests(guests) {
    const rows = $("guest-rows");
    rows.replaceChildren(...guests.sort(byExpiry).map((guest) => guestRow(guest)));
    $("guests").hidden = guests.length === 0;
    $("guests-empty").hidden = guests.length !== 0;
    $("guests-section").hidden = false;
  }

  function ask(guest, decision, button) {
    pending = {guest, decision, button};
    const name = nameOf(guest);
    $("confirm-title").textContent = decision === "keep" ? `Keep ${name}?` : `Remove ${name}?`;
    $("confirm-text").textContent = decision === "keep"
      ? `${name} (${guest.email}) keeps their access. Your decision is recorded.`
      : `${name} (${guest.email}) is blocked from signing in now, and their account is deleted after the grace ` +
        "period. An administrator can still bring them back until then.";
    const ok = $("confirm-ok");
    ok.textContent = decision === "keep" ? "Keep" : "Remove";
    ok.className = decision === "keep" ? "button" : "button confirm-danger";
    $("confirm").showModal();
    $("confirm-cancel").focus();
  }

  async function decided(event) {
    const dialog = $("confirm");
    const chosen = pending;
    pending = null;
    if (!chosen) return;
    const {guest, decision, button} = chosen;
    if (dialog.returnValue !== "ok") {
      button.focus();
      return;
    }
    const row = $(`guest-${guest.id}`);
    for (const other of row.querySelectorAll("button")) other.disabled = true;
    say(`Sending your decision for ${nameOf(guest)}…`);
    try {
      const updated = await api(`/guests/${encodeURIComponent(guest.id)}/attest`, {
        method: "POST",
        headers: {"Content-Type": "application/json", Accept: "application/json",
                  "Idempotency-Key": crypto.randomUUID()},
        body: JSON.stringify({decision}),
      });
      const fresh = guestRow(updated, decision === "keep" ? "Kept just now" : "");
      row.replaceWith(fresh);
      say(decision === "keep" ? `${nameOf(guest)} is kept.` : `${nameOf(guest)} is removed: sign-in is blocked.`);
      const focusable = fresh.querySelector("button") || $("main");
      focusable.focus();
    } catch (error) {
      if (error.status === 401) return;
      for (const other of row.querySelectorAll("button")) other.disabled = false;
      say("");
      showProblem(`Your decision for ${nameOf(guest)} was not recorded: ${error.message}`);
      button.focus();
    }
  }

  async function allGuests() {
    const guests = [];
    let token = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const query = new URLSearchParams({pageSize: "100"});
      if (token) query.set("continuationToken", token);
      const body = await api(`/me/guests?${query}`);
      caller = body.caller;
      guests.push(...body.value);
      token = body.continuationToken;
      if (!token) break;
    }
    return guests;
  }

  function planRow(action) {
    const row = document.createElement("tr");
    const since = when(action.since);
    row.append(cell("Guest", element("span", action.email || action.guestId)),
               cell("Action", element("span", action.heldByGuard ? `${action.action} (held by the guard)`
                                                                 : action.action)),
               cell("Reason", element("span", action.reason)),
               cell("Since", element("span", since ? dateFormat.format(since) : "")));
    return row;
  }

  async function showPlan() {
    const section = $("plan-section");
    section.hidden = false;
    $("plan-summary").textContent = "Reading the plan…";
    try {
      const plan = await api("/expiry/plan");
      const actions = plan.actions || [];
      $("plan-rows").replaceChildren(...actions.map(planRow));
      $("plan").hidden = actions.length === 0;
      const parts = [actions.length ? `${actions.length} action${actions.length === 1 ? "" : "s"} planned.`
                                    : "Nothing is due."];
      if (plan.deferred) parts.push(`${plan.deferred} more wait for later runs.`);
      if (plan.guard && plan.guard.tripped) parts.push(`The mass-deletion guard would hold them: ${plan.guard.message}`);
      $("plan-summary").textContent = parts.join(" ");
    } catch (error) {
      $("plan-summary").textContent = `The plan could not be read: ${error.message}`;
    }
  }

  function showCaller() {
    const who = $("who");
    const top = caller.roles[caller.roles.length - 1]; // the roles come lowest first: the last holds the others
    const roles = top ? ` (${top})` : " (sponsor)";
    who.textContent = `Signed in as ${caller.name.replace(/^principal:/, "").split("/")[0]}${roles}`;
    who.hidden = false;
    $("sign-out").hidden = false;
    if (caller.scope === "all") {
      $("title").textContent = "Guests";
      $("guests-heading").textContent = "All guests";
      $("guests-empty").textContent = "No guest is tracked yet.";
      $("intro").textContent = "Every tracked guest, with what the next expiry sweep would do. You can decide " +
        (caller.roles.includes(MANAGE) ? "for any guest." : "for the guests you sponsor.");
      document.title = "Guests · Guest Lifecycle";
    }
  }

  async function start() {
    $("confirm").addEventListener("close", decided);
    if (document.body.dataset.auth !== "entra") {
      $("keys-notice").hidden = false;
      $("intro").hidden = true;
      return;
    }
    say("Loading your guests…");
    try {
      const guests = await allGuests();
      sessionStorage.removeItem(SIGN_IN_MARK);
      showCaller();
      showGuests(guests);
      say("");
      if (caller.scope === "all" && caller.roles.includes(READ)) await showPlan();
    } catch (error) {
      if (error.status === 401) return;
      say("");
      showProblem(`Your guests could not be read: ${error.message}`);
    }
  }

  document.addEventListener("DOMContentLoaded", start);
})();
