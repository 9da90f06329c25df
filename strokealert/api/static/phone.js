// The phone case view: a stack viewer (tap a series, drag or slide through its slices;
// window/level applied here to 8-bit images, or in HU by the server for the CTA slab, with
// presets) and the acknowledge button.
(function () {
  "use strict";
  const stack = document.getElementById("stack");
  if (stack) {
    const series = JSON.parse(stack.dataset.series);
    const canvas = document.getElementById("stack-canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const slice = stack.querySelector("input[name=slice]");
    const win = stack.querySelector("input[name=window]");
    const level = stack.querySelector("input[name=level]");
    const out = document.getElementById("slice-out");
    const wlOut = document.getElementById("wl-out");
    const presets = document.getElementById("wl-presets");
    const image = new Image();
    let current = 0;
    let pixels = null;
    let pending = null;

    const inHU = () => Boolean(series[current].hu);
    const setWindow = (centre, width) => {
      level.value = String(centre); win.value = String(width);
      wlOut.textContent = inHU() ? "C " + level.value + " W " + win.value + " HU" : "";
    };
    const render = () => {
      if (!pixels || inHU()) return;
      const width = Number(win.value), low = Number(level.value) - width / 2;
      const lut = new Uint8ClampedArray(256);
      for (let v = 0; v < 256; v += 1) lut[v] = ((v - low) / width) * 255;
      const shown = new ImageData(new Uint8ClampedArray(pixels.data), pixels.width, pixels.height);
      const data = shown.data;
      for (let i = 0; i < data.length; i += 4) {
        data[i] = lut[data[i]]; data[i + 1] = lut[data[i + 1]]; data[i + 2] = lut[data[i + 2]];
      }
      ctx.putImageData(shown, 0, 0);
    };
    const load = () => {
      const s = series[current];
      out.textContent = (Number(slice.value) + 1) + " / " + s.slices;
      const windowed = s.hu ? "?c=" + level.value + "&w=" + win.value : "";
      image.src = s.url.replace("{z}", slice.value) + windowed;
    };
    // In HU the server renders the slice: fetch it again once the slider rests (150 ms).
    const changeWindow = () => {
      if (!inHU()) { render(); return; }
      setWindow(level.value, win.value);
      clearTimeout(pending);
      pending = setTimeout(load, 150);
    };
    image.addEventListener("load", () => {
      canvas.width = image.naturalWidth;
      canvas.height = image.naturalHeight;
      ctx.drawImage(image, 0, 0);
      pixels = ctx.getImageData(0, 0, canvas.width, canvas.height);
      render();
      canvas.dataset.src = image.src;
    });
    const choose = (index) => {
      current = index;
      const s = series[index];
      slice.max = String(s.slices - 1);
      slice.value = String(Math.floor(s.slices / 2));
      const range = s.hu ? ["-200", "800", "10", "2000"] : ["0", "255", "1", "255"];
      [level.min, level.max, win.min, win.max] = range;
      level.step = win.step = s.hu ? "10" : "1";
      presets.hidden = !s.hu;
      if (s.hu) setWindow(s.hu.c, s.hu.w); else setWindow(128, 255);
      stack.querySelectorAll(".tab").forEach((tab) =>
        tab.classList.toggle("active", Number(tab.dataset.index) === index));
      load();
    };
    stack.querySelectorAll(".tab").forEach((tab) =>
      tab.addEventListener("click", () => choose(Number(tab.dataset.index))));
    slice.addEventListener("input", load);
    win.addEventListener("input", changeWindow);
    level.addEventListener("input", changeWindow);
    presets.querySelectorAll("button").forEach((preset) =>
      preset.addEventListener("click", () => {
        setWindow(preset.dataset.c, preset.dataset.w); load();
      }));
    document.getElementById("wl-reset").addEventListener("click", () => {
      const hu = series[current].hu;
      if (hu) { setWindow(hu.c, hu.w); load(); } else { setWindow(128, 255); render(); }
    });
    // Drag up or down on the image to scroll through the slices (one per 12 px).
    let dragY = null;
    canvas.addEventListener("pointerdown", (e) => { dragY = e.clientY; canvas.setPointerCapture(e.pointerId); });
    canvas.addEventListener("pointerup", () => { dragY = null; });
    canvas.addEventListener("pointermove", (e) => {
      if (dragY === null) return;
      const steps = Math.trunc((e.clientY - dragY) / 12);
      if (!steps) return;
      dragY = e.clientY;
      const next = Math.min(Number(slice.max), Math.max(0, Number(slice.value) + steps));
      if (String(next) !== slice.value) { slice.value = String(next); load(); }
    });
    choose(0);
  }

  // Acknowledge, or "not a candidate" (a second tap confirms it: it stops the paging too).
  const respond = async (button, path, body, told) => {
    button.disabled = true;
    const csrf = document.querySelector("meta[name=csrf-token]");
    const caseId = document.getElementById("phone-case").dataset.case;
    const response = await fetch("/api/cases/" + encodeURIComponent(caseId) + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: JSON.stringify(body),
    });
    const panel = document.getElementById("phone-ack");
    if (!response.ok) {
      button.disabled = false;
      panel.append(" Could not send (" + response.status + ").");
      return;
    }
    const answer = await response.json();
    const done = document.createElement("div");
    done.className = "acked";
    done.textContent = "✓ " + told + " — first response by " + answer.first_ack_by;
    panel.replaceChildren(done);
  };
  const ack = document.getElementById("phone-ack-button");
  if (ack) {
    ack.addEventListener("click", () => respond(ack, "/ack", { via: "app" }, "Acknowledged"));
  }
  const notCandidate = document.getElementById("not-candidate-button");
  if (notCandidate) {
    notCandidate.addEventListener("click", () => {
      if (notCandidate.dataset.armed !== "yes") {
        notCandidate.dataset.armed = "yes";
        notCandidate.textContent = "Tap again: not a candidate, stop paging";
        return;
      }
      respond(notCandidate, "/not-candidate", {}, "Not a candidate");
    });
  }
})();
