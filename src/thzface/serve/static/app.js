// thzface web app: choose one or two scans (drop, file picker or samples) → /api/analyze each, /api/verify the pair.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;
let selected = []; // [{name, blob}], at most two

function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) e.append(c);
  return e;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, body) {
  const res = await fetch(path, body ? { method: "POST", body } : {});
  let data = null;
  try {
    data = await res.json();
  } catch (_) {
    throw new Error(`${path}: the server answered ${res.status} without JSON`);
  }
  if (!res.ok) throw new Error(data.error || `${path}: HTTP ${res.status}`);
  return data;
}

function describeSelection() {
  $("selection").textContent = selected.length
    ? selected.map((s, i) => `${"AB"[i]}: ${s.name}`).join("  ·  ")
    : "No scan chosen yet.";
}

function choose(items) {
  showError("");
  if (items.length > 2) {
    showError(`Choose one or two scans, not ${items.length}.`);
    return;
  }
  const max = info ? info.limits.max_bytes : Infinity;
  const big = items.find((s) => s.blob.size > max);
  if (big) {
    showError(`${big.name}: file is ${(big.blob.size / 2 ** 20).toFixed(1)} MB, the limit is ${(max / 2 ** 20).toFixed(1)} MB`);
    return;
  }
  selected = items;
  describeSelection();
  analyse();
}

function postureCard(slot, name, r) {
  const bars = el("ul", { className: "bars" });
  for (const p of info.postures) {
    const v = r.probabilities[p];
    const bar = el("div", { className: "bar" }, [el("span")]);
    bar.firstChild.style.width = `${(100 * v).toFixed(1)}%`;
    bars.append(el("li", { className: p === r.posture ? "top" : "" }, [el("span", { textContent: p }), bar,
      el("span", { textContent: v.toFixed(2) })]));
  }
  const fig = (cls, b64, caption) => el("figure", {}, [
    el("img", { className: cls, src: `data:image/png;base64,${b64}`, alt: caption }),
    el("figcaption", { textContent: caption })]);
  const crop = r.cropped ? ", centre-cropped" : "";
  return el("article", { className: "card" }, [
    el("h3", { textContent: `${slot} · ${name}` }),
    el("div", { className: "pair" }, [
      fig("scan", r.input_png, `input ${r.original_size[0]}×${r.original_size[1]} → ${r.image_size} px${crop}`),
      fig("recon", r.reconstruction_png, "reconstructed unconcealed face")]),
    el("p", { className: "posture" }, ["Posture: ", el("strong", { textContent: r.posture }),
      ` (${r.probability.toFixed(2)})`]),
    bars,
    el("p", { className: "muted", textContent: `embedding norm ${r.embedding_norm.toFixed(3)} (dim ${r.embedding_dim})` }),
  ]);
}

function showVerification(v) {
  $("score").textContent = v.score.toFixed(3);
  $("threshold").textContent = v.threshold === null ? "none" : v.threshold.toFixed(3);
  const d = $("decision");
  d.textContent = v.decision;
  d.className = "decision " + (v.same_person === null ? "none" : v.same_person ? "same" : "different");
  $("verify").hidden = false;
}

async function analyse() {
  $("results").replaceChildren();
  $("verify").hidden = true;
  if (!selected.length) return;
  $("busy").hidden = false;
  try {
    for (const [i, s] of selected.entries()) {
      const body = new FormData();
      body.append("image", s.blob, s.name);
      const r = await api("/api/analyze", body);
      $("results").append(postureCard("AB"[i], s.name, r));
    }
    if (selected.length === 2) {
      const body = new FormData();
      body.append("a", selected[0].blob, selected[0].name);
      body.append("b", selected[1].blob, selected[1].name);
      showVerification(await api("/api/verify", body));
    }
  } catch (e) {
    showError(e.message);
  } finally {
    $("busy").hidden = true;
  }
}

async function pickSample(name) {
  try {
    const res = await fetch(`/api/samples/${encodeURIComponent(name)}`);
    if (!res.ok) throw new Error(`${name}: sample not available (HTTP ${res.status})`);
    const item = { name, blob: await res.blob() };
    choose(selected.length < 2 ? [...selected, item] : [selected[1], item]);
  } catch (e) {
    showError(e.message);
  }
}

function setUpInputs() {
  const drop = $("drop");
  $("file-input").addEventListener("change", (ev) => {
    choose([...ev.target.files].map((f) => ({ name: f.name, blob: f })));
    ev.target.value = "";
  });
  drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    drop.classList.remove("over");
    choose([...ev.dataTransfer.files].map((f) => ({ name: f.name, blob: f })));
  });
}

async function init() {
  setUpInputs();
  try {
    info = await api("/api/info");
  } catch (e) {
    $("run-info").textContent = "";
    showError(`Could not load the run: ${e.message}`);
    return;
  }
  const thr = info.threshold !== null ? `threshold ${info.threshold.toFixed(3)}`
    : info.threshold_source ? "no usable threshold (validation found no operating point)"
    : "no threshold (the run has no RUN/threshold.json)";
  $("run-info").textContent = `Run ${info.run} · recipe ${info.recipe} (${info.preset}) · ${info.image_size} px · ${info.backend} · ${thr}`;
  const l = info.limits;
  $("limits").textContent = `${l.formats.join(", ")} · at most ${(l.max_bytes / 2 ** 20).toFixed(0)} MB and ${l.max_side} px per side`;
  if (info.samples.length) {
    $("samples").hidden = false;
    for (const name of info.samples) {
      const b = el("button", { type: "button", title: name, className: "sample" },
        [el("img", { src: `/api/samples/${encodeURIComponent(name)}`, alt: name })]);
      b.addEventListener("click", () => pickSample(name));
      $("sample-list").append(b);
    }
  }
}

init();
