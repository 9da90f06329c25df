// strokealert pages: live worklist (SSE), map slice scroller, PWA registration.
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

// PWA: register the service worker; a wrapper app (or Firebase web SDK) that obtains an FCM
// token dispatches "strokealert:fcm-token" and the token is registered for the logged-in user.
async function registerDevice(token, platform) {
  const response = await fetch("/api/devices", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify({ token, platform: platform || "web" }),
  });
  return response.status === 204;
}
window.strokealertRegisterDevice = registerDevice;
window.addEventListener("strokealert:fcm-token", (event) => {
  registerDevice(event.detail.token, event.detail.platform);
});

document.addEventListener("DOMContentLoaded", () => {
  startWorklist();
  startScroller();
  if ("serviceWorker" in navigator && csrfToken()) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
  }
});
