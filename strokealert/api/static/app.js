// strokealert pages: live worklist (SSE), map slice scroller, PWA and push registration.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function sortWorklist(list) {
  const rows = Array.from(list.querySelectorAll(".case-row"));
  rows.sort((a, b) => (a.dataset.urgency - b.dataset.urgency) ||
    (b.dataset.created < a.dataset.created ? -1 : b.dataset.created > a.dataset.created ? 1 : 0));
  rows.forEach((row) => list.appendChild(row));
}

function startWorklist() {
  const list = document.getElementById("worklist");
  if (!list || !window.EventSource) return;
  const status = document.getElementById("live-status");
  const setState = (state, text) => {
    if (status) { status.dataset.state = state; status.querySelector("span").textContent = text; }
  };
  const source = new EventSource(list.dataset.stream);
  source.onopen = () => setState("live", "Live");
  source.onerror = () => setState("down", "Reconnecting…");
  source.addEventListener("case", (event) => {
    const change = JSON.parse(event.data);
    const holder = document.createElement("div");
    holder.innerHTML = change.html.trim();
    const row = holder.firstElementChild;
    const old = document.getElementById("case-" + change.id);
    const empty = document.getElementById("empty");
    if (empty) empty.remove();
    if (old) { old.replaceWith(row); } else { row.classList.add("new"); list.appendChild(row); }
    sortWorklist(list);
    if (!old && row.classList.contains("level-critical") && navigator.vibrate) navigator.vibrate(300);
  });
}

function startScroller() {
  const box = document.querySelector(".scroller");
  if (!box) return;
  const slices = JSON.parse(box.dataset.slices);
  const img = box.querySelector("img.slice");
  const range = box.querySelector("input[type=range]");
  const out = box.querySelector("output");
  let current = Object.keys(slices)[0];
  const show = () => {
    img.src = `/cases/${box.dataset.case}/maps/${current}/${range.value}`;
    out.textContent = `${Number(range.value) + 1} / ${slices[current]}`;
  };
  range.addEventListener("input", show);
  img.addEventListener("wheel", (event) => {
    event.preventDefault();
    range.value = Math.min(Number(range.max), Math.max(0, Number(range.value) + Math.sign(event.deltaY)));
    show();
  }, { passive: false });
  box.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
    box.querySelectorAll(".tab").forEach((t) => t.classList.remove("active"));
    tab.classList.add("active");
    current = tab.dataset.map;
    range.max = slices[current] - 1;
    if (Number(range.value) > Number(range.max)) range.value = range.max;
    show();
  }));
  show();
}

// Phones: the device's FCM token is registered for the logged-in user's on-call person.
// A wrapper app that obtains a token itself dispatches "strokealert:fcm-token"; the PWA gets
// its own through the vendored Firebase web SDK ("Enable alerts on this device").
async function registerDevice(token, platform) {
  const response = await fetch("/api/devices", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify({ token, platform: platform || "web" }),
  });
  return response.status;
}
window.strokealertRegisterDevice = registerDevice;
window.addEventListener("strokealert:fcm-token", (event) => {
  registerDevice(event.detail.token, event.detail.platform);
});

const PUSH_TOKEN_KEY = "strokealert.push-token";

function pushConfig() {
  const box = document.getElementById("push");
  return box ? JSON.parse(box.dataset.config || "null") : null;
}

function pushStatus(text, state) {
  const status = document.getElementById("push-status");
  if (status) { status.textContent = text; status.dataset.state = state || ""; }
}

function firebaseMessaging(config) {
  if (!window.firebase || !firebase.messaging || !firebase.messaging.isSupported()) return null;
  const app = firebase.apps.length ? firebase.app() : firebase.initializeApp(config.firebase);
  return firebase.messaging(app);
}

// Ask Firebase for this browser's registration token (through our service worker's push
// subscription) and register it with the server; returns a message for the user.
async function obtainAndRegisterToken(config, messaging) {
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  await navigator.serviceWorker.ready;
  let token;
  try {
    token = await messaging.getToken({ vapidKey: config.vapidKey,
                                       serviceWorkerRegistration: registration });
  } catch (error) {
    return ["Could not get a push token from Firebase (" + (error.code || error.message) + ").",
            "error"];
  }
  if (!token) return ["Firebase returned no push token for this browser.", "error"];
  const status = await registerDevice(token, "web");
  if (status === 204) {
    localStorage.setItem(PUSH_TOKEN_KEY, token);
    return ["Alerts are on for this device.", "ok"];
  }
  if (status === 409) {
    return ["Your account is not linked to an on-call person; ask an administrator.", "error"];
  }
  return ["The server did not accept this device (HTTP " + status + ").", "error"];
}

async function enablePush() {
  const config = pushConfig();
  if (!config) {
    pushStatus("Push alerts are not configured on this server (no Firebase web settings); " +
               "alerts still reach you by SMS or the phone app.", "error");
    return;
  }
  const messaging = ("serviceWorker" in navigator && "Notification" in window)
    ? firebaseMessaging(config) : null;
  if (!messaging) { pushStatus("This browser cannot receive push alerts.", "error"); return; }
  pushStatus("Asking for permission…");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    pushStatus("Notifications are blocked for this site; allow them in the browser settings.",
               "error");
    return;
  }
  const [text, state] = await obtainAndRegisterToken(config, messaging);
  pushStatus(text, state);
}

// A device that enabled alerts before re-checks its token on each visit (tokens rotate).
async function refreshPush() {
  const config = pushConfig();
  if (!config || !("Notification" in window) || Notification.permission !== "granted") return;
  const previous = localStorage.getItem(PUSH_TOKEN_KEY);
  const messaging = firebaseMessaging(config);
  if (!previous || !messaging) return;
  const [text, state] = await obtainAndRegisterToken(config, messaging);
  pushStatus(state === "ok" ? "Alerts are on for this device." : text, state);
}

function startPush() {
  const button = document.getElementById("push-enable");
  if (!button) return;
  const config = pushConfig();
  if (config && window.firebase) firebaseMessaging(config);  // ready before any click
  button.addEventListener("click", () => {
    enablePush().catch((error) => pushStatus("Could not enable alerts: " + error.message, "error"));
  });
  refreshPush().catch(() => {});
}

document.addEventListener("DOMContentLoaded", () => {
  startWorklist();
  startScroller();
  if ("serviceWorker" in navigator && csrfToken()) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  }
  startPush();
});
