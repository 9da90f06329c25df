// strokealert service worker: shows pushes (FCM web push, also while no page is open) and
// opens the case on tap.
// Pages with PHI are never cached; only the static shell is.
const SHELL = "strokealert-shell-v3";
const SHELL_FILES = ["/static/app.css", "/static/app.js", "/static/icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_FILES)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) =>
    Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k)))));
  self.clients.claim();
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method === "GET" && url.pathname.startsWith("/static/")) {
    event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)));
  }
});

// An FCM web push arrives as {notification: {title, body}, data: {payload: "<alert JSON>",
// ack_url}, from, fcmMessageId}; the alert (schema strokealert.alert/2, or /1) carries no PHI
// by contract, and only its title, body, level, case id, link and key image are used. The key
// image is a signed, short-lived link to a de-identified PNG (FCM's notification.image).
function alertFrom(message) {
  const data = message.data || {};
  let alert = {};
  try { alert = typeof data.payload === "string" ? JSON.parse(data.payload) : {}; } catch (e) { alert = {}; }
  const notification = message.notification || {};
  return {
    title: String(alert.title || notification.title || "strokealert: new alert"),
    body: String(alert.body || notification.body || ""),
    level: alert.level || "", caseId: alert.case_id || "", url: sameOrigin(alert.url),
    image: String(alert.image_url || notification.image || "") || undefined,
  };
}

// Only links into this site are opened from a notification.
function sameOrigin(url) {
  try {
    const target = new URL(url || "/", self.location.origin);
    return target.origin === self.location.origin ? target.href : self.location.origin + "/";
  } catch (e) { return self.location.origin + "/"; }
}

self.addEventListener("push", (event) => {
  let message = {};
  try { message = event.data ? event.data.json() : {}; } catch (e) { message = {}; }
  const alert = alertFrom(message);
  event.waitUntil(self.registration.showNotification(alert.title, {
    body: alert.body, tag: alert.caseId || "strokealert", renotify: true,
    requireInteraction: alert.level === "critical", icon: "/static/icon.svg",
    image: alert.image, data: { url: phoneView(alert.url) },
  }));
});

// The phone case view of a case link (key images first); other links as they are.
function phoneView(url) {
  const target = new URL(url);
  return /^\/cases\/[^/]+$/.test(target.pathname) ? target.origin + target.pathname + "/phone"
    : target.href;
}

// Tapping the notification opens the case's phone view (focusing a window already on it).
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = sameOrigin(event.notification.data && event.notification.data.url);
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true })
    .then((windows) => {
      const open = windows.find((w) => w.url === target);
      return open ? open.focus() : self.clients.openWindow(target);
    }));
});
