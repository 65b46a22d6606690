// plugin-server's page: plain JavaScript over the REST API (see /api/openapi.json).
//
// Logging in creates a client token (POST /api/tokens with basic auth), kept in this tab's
// sessionStorage; every request sends it as a bearer token. Text from the server is put in
// the page with textContent; only the plugins' display HTML, sanitised by the server, goes
// through innerHTML, under a content security policy that runs no inline script.
"use strict";

const state = { token: sessionStorage.getItem("token"), tokenId: sessionStorage.getItem("tokenId"), user: null, selected: null, events: null };

const $ = (id) => document.getElementById(id);

function show(el, visible) { el.hidden = !visible; }

function setText(id, text) {
  const el = $(id);
  el.textContent = text;
  show(el, Boolean(text));
}

async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({ "X-Requested-With": "plugin-server-page" }, extraHeaders || {});
  if (state.token && !headers.Authorization) headers.Authorization = "Bearer " + state.token;
  const options = { method, headers };
  if (body !== undefined) options.body = body;
  const response = await fetch(path, options);
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("application/json") ? await response.json() : await response.text();
  if (!response.ok) {
    const error = new Error(data && data.error ? data.error : String(response.status));
    error.hint = data && data.hint;
    error.status = response.status;
    throw error;
  }
  return data;
}

function explain(error) {
  return error.hint ? error.message + " (" + error.hint + ")" : error.message;
}

// ---- log in and out

async function login(event) {
  event.preventDefault();
  setText("login-error", "");
  const name = $("login-name").value;
  const password = $("login-password").value;
  try {
    const basic = "Basic " + btoa(unescape(encodeURIComponent(name + ":" + password)));
    const created = await api("POST", "/api/tokens", JSON.stringify({ name: "web page" }),
      { Authorization: basic, "Content-Type": "application/json" });
    state.token = created.token;
    state.tokenId = String(created.id);
    sessionStorage.setItem("token", state.token);
    sessionStorage.setItem("tokenId", state.tokenId);
    $("login-password").value = "";
    await start();
  } catch (error) {
    setText("login-error", explain(error));
  }
}

async function logout() {
  try { if (state.tokenId) await api("DELETE", "/api/tokens/" + state.tokenId); } catch (_) { /* already gone */ }
  sessionStorage.clear();
  state.token = null;
  state.tokenId = null;
  if (state.events) state.events.close();
  showLogin();
}

function showLogin() {
  show($("app"), false);
  show($("who"), false);
  show($("logout"), false);
  show($("live"), false);
  show($("login"), true);
}

async function start() {
  try {
    state.user = await api("GET", "/api/user");
  } catch (error) {
    if (error.status === 401) { sessionStorage.clear(); state.token = null; showLogin(); return; }
    throw error;
  }
  show($("login"), false);
  show($("app"), true);
  setText("who", state.user.name + (state.user.admin ? " (administrator)" : ""));
  show($("logout"), true);
  show($("upload-section"), state.user.admin);
  await Promise.all([loadPlugins(), loadMessages()]);
  listen();
}

// ---- plugins

function statusCell(plugin) {
  const cell = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = "status " + plugin.status;
  badge.textContent = plugin.status;
  cell.appendChild(badge);
  if (plugin.messages.length) {
    const lines = document.createElement("pre");
    lines.className = "messages";
    lines.textContent = plugin.messages.join("\n");
    cell.appendChild(lines);
  }
  return cell;
}

function enableCell(plugin) {
  const cell = document.createElement("td");
  if (plugin.status === "invalid") return cell;
  const label = document.createElement("label");
  label.className = "switch";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.className = "enable-toggle";
  box.checked = plugin.enabled;
  box.setAttribute("aria-label", "enable " + plugin.id + " for you");
  box.addEventListener("change", async () => {
    box.disabled = true;
    try {
      await api("POST", "/api/plugins/" + encodeURIComponent(plugin.id) + (box.checked ? "/enable" : "/disable"));
      setText("plugins-error", "");
    } catch (error) {
      box.checked = !box.checked;
      setText("plugins-error", explain(error));
    }
    box.disabled = false;
    await loadPlugins();
  });
  label.appendChild(box);
  label.appendChild(document.createTextNode(box.checked ? " on" : " off"));
  cell.appendChild(label);
  return cell;
}

async function loadPlugins() {
  let plugins;
  try {
    plugins = await api("GET", "/api/plugins");
  } catch (error) {
    setText("plugins-error", explain(error));
    return;
  }
  const body = $("plugins").tBodies[0];
  body.replaceChildren();
  for (const plugin of plugins) {
    const row = document.createElement("tr");
    row.dataset.id = plugin.id;
    if (plugin.id === state.selected) row.className = "selected";
    const name = document.createElement("td");
    const link = document.createElement("a");
    link.href = "#" + encodeURIComponent(plugin.id);
    link.className = "plugin-link";
    link.textContent = plugin.name || plugin.id;
    link.addEventListener("click", (event) => { event.preventDefault(); select(plugin.id); });
    name.appendChild(link);
    const version = document.createElement("td");
    version.textContent = plugin.version || "";
    row.append(name, version, statusCell(plugin), enableCell(plugin));
    body.appendChild(row);
  }
  if (state.selected) {
    if (plugins.some((p) => p.id === state.selected)) await select(state.selected, true);
    else { state.selected = null; show($("detail"), false); }
  }
}

async function select(id, keepEditor) {
  state.selected = id;
  for (const row of $("plugins").tBodies[0].rows) row.className = row.dataset.id === id ? "selected" : "";
  const plugin = await api("GET", "/api/plugins/" + encodeURIComponent(id));
  show($("detail"), true);
  $("detail-name").textContent = plugin.name || plugin.id;
  $("detail-description").textContent = plugin.description || plugin.messages.join("\n");
  $("detail-id").textContent = plugin.id;
  $("detail-webhook").textContent = plugin.webhook_url || "none";
  $("detail-routes").textContent = plugin.routes.length
    ? plugin.routes.map((r) => r.method + " " + r.path).join(", ")
    : (plugin.webhook_url && !plugin.enabled ? "enable the plugin to see its routes" : "none");
  const m = plugin.metrics;
  $("detail-metrics").textContent = m.calls + " calls, " + m.errors + " errors, " + m.panics + " panics" +
    (m.p50_ns ? ", median under " + (m.p50_ns / 1000).toFixed(1) + " µs" : "");

  const configurable = plugin.capabilities.includes("config");
  show($("config-panel"), configurable);
  if (configurable && !keepEditor) {
    setText("config-error", "");
    show($("config-ok"), false);
    try {
      const config = await api("GET", "/api/plugins/" + encodeURIComponent(id) + "/config");
      $("config-text").value = config.config;
    } catch (error) {
      setText("config-error", explain(error));
    }
  }
  await loadDisplay(plugin);
}

async function loadDisplay(plugin) {
  const shows = plugin.capabilities.includes("display");
  show($("display-panel"), shows);
  if (!shows) return;
  const target = $("display");
  if (!plugin.enabled) {
    target.textContent = "Enable the plugin to see what it shows.";
    return;
  }
  try {
    const display = await api("GET", "/api/plugins/" + encodeURIComponent(plugin.id) + "/display");
    target.innerHTML = display.html; // sanitised by the server (ammonia)
  } catch (error) {
    target.textContent = explain(error);
  }
}

async function saveConfig() {
  const id = state.selected;
  setText("config-error", "");
  show($("config-ok"), false);
  try {
    await api("PUT", "/api/plugins/" + encodeURIComponent(id) + "/config", $("config-text").value,
      { "Content-Type": "application/json" });
    show($("config-ok"), true);
    await select(id, true);
  } catch (error) {
    setText("config-error", explain(error));
  }
}

// ---- upload

async function upload(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  const result = $("upload-result");
  result.className = "";
  setText("upload-result", "Uploading " + file.name + "…");
  const form = new FormData();
  form.append("package", file, file.name);
  try {
    const plugin = await api("POST", "/api/plugins", form);
    result.className = "ok";
    setText("upload-result", "Installed " + plugin.id + " " + (plugin.version || "") + ": " + plugin.status + ".");
    $("upload-form").reset();
    await loadPlugins();
  } catch (error) {
    result.className = "error";
    setText("upload-result", explain(error));
    await loadPlugins();
  }
}

// ---- messages and live updates

function messageItem(message) {
  const item = document.createElement("li");
  item.dataset.id = message.id;
  const title = document.createElement("strong");
  title.textContent = message.title;
  const from = document.createElement("span");
  from.className = "from";
  from.textContent = " from " + message.plugin_id + " · " + new Date(message.created_at * 1000).toLocaleString();
  const text = document.createElement("p");
  text.textContent = message.message;
  item.append(title, from, text);
  return item;
}

async function loadMessages() {
  const messages = await api("GET", "/api/messages");
  const list = $("messages");
  list.replaceChildren(...messages.reverse().map(messageItem));
  show($("messages-empty"), messages.length === 0);
}

function listen() {
  if (state.events) state.events.close();
  const events = new EventSource("/api/events?token=" + encodeURIComponent(state.token));
  state.events = events;
  events.onopen = () => show($("live"), true);
  events.onerror = () => show($("live"), false);
  for (const kind of ["loaded", "refused", "reloaded", "reload-refused", "unloaded", "crashed", "lagged"]) {
    events.addEventListener(kind, () => loadPlugins());
  }
  events.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    const list = $("messages");
    if (!list.querySelector('[data-id="' + data.message.id + '"]')) list.prepend(messageItem(data.message));
    show($("messages-empty"), false);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("config-save").addEventListener("click", saveConfig);
  $("upload-form").addEventListener("submit", upload);
  if (state.token) start(); else showLogin();
});
