"use strict";
// The review page: a grid of the photos to review, the one in focus large beside it, keys and
// clicks to decide. Every request carries the token; decisions go by POST with it in a header.
(() => {
  const data = JSON.parse(document.getElementById("data").textContent);
  const token = data.token;
  // Each photo comes as a list of values in the order of data.fields (a third of the bytes).
  const items = data.items.map((row) => {
    const item = {};
    data.fields.forEach((field, index) => { item[field] = row[index]; });
    return item;
  }); // in review order: uncertain, other, then the labels
  const byId = new Map(items.map((item) => [item.id, item]));
  const CHUNK = 150; // tiles added at a time: the first screen never waits for 10,000
  const NAMES = { other: "not a pet" };
  const STALE = { changed: "changed since the run", missing: "moved or deleted since the run" };

  // A key per label: its first letter (c, d), else its number; o is "not a pet".
  const keyOf = new Map();
  const labelOf = new Map([["o", "other"]]);
  data.labels.forEach((label, n) => {
    let key = label[0].toLowerCase();
    if (labelOf.has(key) || "su".includes(key)) key = String(n + 1);
    labelOf.set(key, label);
  });
  labelOf.forEach((label, key) => keyOf.set(label, key));

  const $ = (id) => document.getElementById(id);
  const grid = $("grid");
  const large = $("large");
  const facts = $("facts");
  const status = $("status");
  const sentinel = element("div", "sentinel");

  let filter = "all";
  let shown = []; // the items the filter lets through, in order
  let position = new Map(); // id -> index in shown
  let rendered = 0; // how many of shown have their tile
  let focus = -1;
  let anchor = null; // where a shift-click range starts
  let selected = new Set();
  let canUndo = false;

  const FILTERS = [
    ["all", "all", () => true],
    ["todo", "to decide", (item) => item.decided === null],
    ["uncertain", "uncertain", (item) => item.label === "uncertain"],
    ["other", "other", (item) => item.label === "other"],
    ...data.labels.map((label) => [label, label, (item) => item.label === label]),
    ["decided", "decided", (item) => item.decided !== null],
  ];

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function url(path) {
    return `${path}?token=${encodeURIComponent(token)}`;
  }

  function nameOf(label) {
    return NAMES[label] || label;
  }

  function score(item) {
    if (item.label === "other" && item.pet !== null) return `pet ${item.pet.toFixed(2)}`;
    return item.confidence.toFixed(2);
  }

  function say(text, bad) {
    status.textContent = text;
    status.style.color = bad ? "var(--bad)" : "";
  }

  // --- the grid ------------------------------------------------------------------------------

  function tile(item) {
    const fig = element("figure", "tile");
    fig.id = `t${item.id}`;
    fig.dataset.id = item.id;
    fig.setAttribute("role", "option");
    fig.setAttribute("aria-selected", "false");
    const box = element("div", "thumb");
    const img = document.createElement("img");
    img.loading = "lazy";
    img.decoding = "async";
    img.alt = "";
    img.addEventListener("error", () => box.replaceChildren(element("div", "none", "cannot show this photo")));
    img.src = url(`/thumb/${item.id}`);
    box.append(img);
    fig.append(box, element("figcaption"));
    fill(fig, item);
    return fig;
  }

  function fill(fig, item) {
    fig.dataset.path = item.path;
    fig.classList.toggle("stale", item.state !== "ok");
    const caption = fig.querySelector("figcaption");
    const line = element("div", "line");
    line.append(element("span", `label ${item.label}`, item.label), element("span", "", score(item)));
    if (item.state !== "ok") line.append(element("span", "badge stale", item.state));
    else if (item.decided !== null) line.append(element("span", "badge", `✓ ${nameOf(item.decided)}`));
    const name = element("div", "name", item.path.split("/").pop());
    name.title = item.path;
    caption.replaceChildren(name, line);
    if (item.message) caption.append(element("div", "message", item.message));
    let text = `${item.path}: the model says ${item.label}, ${score(item)}`;
    if (item.decided !== null) text += `; decided: ${nameOf(item.decided)}`;
    if (item.state !== "ok") text += `; ${STALE[item.state]}`;
    fig.setAttribute("aria-label", text);
  }

  function tileOf(item) {
    return item ? document.getElementById(`t${item.id}`) : null;
  }

  function renderMore(upTo = 0) {
    const end = Math.min(shown.length, Math.max(rendered + CHUNK, upTo + 1));
    if (end <= rendered) return;
    const fragment = document.createDocumentFragment();
    for (let index = rendered; index < end; index += 1) fragment.append(tile(shown[index]));
    rendered = end;
    grid.insertBefore(fragment, sentinel);
  }

  function applyFilter(name) {
    filter = name;
    const test = FILTERS.find(([key]) => key === name)[2];
    shown = items.filter(test);
    position = new Map(shown.map((item, index) => [item.id, index]));
    rendered = 0;
    focus = -1;
    selected.clear();
    // The photo in focus first: its request goes out before the thumbnails'.
    if (shown.length) large.src = url(`/photo/${shown[0].id}`);
    grid.replaceChildren(sentinel);
    renderMore();
    document.querySelectorAll("#filters button").forEach((button) => {
      button.setAttribute("aria-pressed", String(button.dataset.filter === name));
    });
    if (shown.length) setFocus(0);
    else showLarge(null);
  }

  new IntersectionObserver((seen) => {
    if (seen.some((entry) => entry.isIntersecting)) renderMore();
  }, { root: grid, rootMargin: "600px" }).observe(sentinel);

  // --- focus and selection -------------------------------------------------------------------

  function setFocus(index, scroll = true) {
    if (!shown.length) return;
    index = Math.max(0, Math.min(shown.length - 1, index));
    if (index >= rendered) renderMore(index);
    const before = tileOf(shown[focus]);
    if (before) before.removeAttribute("aria-current");
    focus = index;
    const fig = tileOf(shown[focus]);
    fig.setAttribute("aria-current", "true");
    if (scroll) fig.scrollIntoView({ block: "nearest" });
    showLarge(shown[focus]);
  }

  function showLarge(item) {
    if (!item) {
      large.removeAttribute("src");
      facts.replaceChildren(element("p", "", "No photos here."));
      return;
    }
    const source = url(`/photo/${item.id}`);
    if (large.getAttribute("src") !== source) large.src = source;
    large.alt = item.path;
    const rows = element("div", "bars");
    const bar = (name, value) => {
      const meter = element("div", "bar");
      const fillBar = element("span");
      fillBar.style.width = `${Math.round(value * 100)}%`;
      meter.append(fillBar);
      rows.append(element("span", "", name), meter, element("span", "", value.toFixed(2)));
    };
    Object.entries(item.p).forEach(([label, value]) => bar(label, value));
    if (item.pet !== null) bar("pet score", item.pet);
    const said = element("div", "", "the model says ");
    said.append(element("span", `label ${item.label}`, item.label));
    const parts = [element("div", "name", item.path), said, rows];
    if (item.decided !== null) parts.push(element("div", "", `decided: ${nameOf(item.decided)}`));
    if (item.state !== "ok") parts.push(element("div", "state", `${STALE[item.state]}: not decided`));
    if (item.message) parts.push(element("div", "message", item.message));
    facts.replaceChildren(...parts);
    const next = shown[focus + 1];
    if (next) new Image().src = url(`/photo/${next.id}`); // ready when the next key comes
  }

  function select(index, on) {
    const item = shown[index];
    if (!item) return;
    if (on) selected.add(item.id);
    else selected.delete(item.id);
    const fig = tileOf(item);
    if (fig) fig.setAttribute("aria-selected", String(on));
  }

  function clearSelection() {
    selected.forEach((id) => {
      const fig = tileOf(byId.get(id));
      if (fig) fig.setAttribute("aria-selected", "false");
    });
    selected = new Set();
  }

  function columns() {
    const tiles = grid.querySelectorAll(".tile");
    let count = 0;
    for (const fig of tiles) {
      if (fig.offsetTop !== tiles[0].offsetTop) break;
      count += 1;
    }
    return Math.max(1, count);
  }

  grid.addEventListener("click", (event) => {
    const fig = event.target.closest(".tile");
    if (!fig) return;
    const index = position.get(Number(fig.dataset.id));
    if (event.shiftKey && anchor !== null) {
      const [low, high] = anchor < index ? [anchor, index] : [index, anchor];
      for (let at = low; at <= high; at += 1) select(at, true);
    } else if (event.ctrlKey || event.metaKey) {
      select(index, !selected.has(shown[index].id));
      anchor = index;
    } else {
      clearSelection();
      anchor = index;
    }
    setFocus(index, false);
  });

  // --- deciding ------------------------------------------------------------------------------

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Catsort-Token": token },
      body: JSON.stringify(body),
      cache: "no-store",
    });
    let answer = {};
    try {
      answer = await response.json();
    } catch (error) {
      answer = {};
    }
    if (!response.ok) throw new Error(answer.error || `${response.status} ${response.statusText}`);
    return answer;
  }

  function apply(answer) {
    for (const changed of answer.items) {
      const item = byId.get(changed.id);
      Object.assign(item, changed);
      const fig = tileOf(item);
      if (fig) fill(fig, item);
    }
    canUndo = answer.undo;
    $("undo").disabled = !canUndo;
    counts();
  }

  // Decisions and undos go to the server one after the other, in the order of the keys: a
  // second key pressed before the first answer comes is not lost.
  let queue = Promise.resolve();
  function enqueue(task) {
    queue = queue.then(task, task);
  }

  function decide(label) {
    if (focus < 0) return;
    const ids = selected.size ? [...selected] : [shown[focus].id];
    clearSelection();
    const last = Math.max(...ids.map((id) => position.get(id)));
    setFocus(last + 1 < shown.length ? last + 1 : last); // the next key is for the next photo
    enqueue(async () => {
      try {
        const answer = await post("/api/decide", { ids, label });
        apply(answer);
        const done = answer.items.filter((item) => item.decided === label && !item.message);
        const left = answer.items.filter((item) => item.decided !== label || item.message);
        let text = done.length ? `${done.length} decided: ${nameOf(label)} (u to undo).` : "";
        if (left.length) {
          text += ` ${left.length} not decided: ${left[0].message || STALE[left[0].state] || "see the photo"}.`;
        }
        if (answer.warning) text += ` ${answer.warning}.`;
        say(text.trim(), left.length > 0 || Boolean(answer.warning));
      } catch (error) {
        say(`Not decided: ${error.message}`, true);
      }
    });
  }

  function undo() {
    enqueue(async () => {
      try {
        const answer = await post("/api/undo", {});
        if (!answer.items.length) {
          say("Nothing to undo.");
          return;
        }
        apply(answer);
        const kept = answer.items.filter((item) => item.message);
        const warning = answer.warning ? ` ${answer.warning}.` : "";
        say((kept.length ? `Not undone: ${kept[0].message}` : `Undone: ${answer.items.length} photos.`) + warning, kept.length > 0 || Boolean(answer.warning));
        const first = Math.min(...answer.items.map((item) => position.get(item.id) ?? Infinity));
        if (Number.isFinite(first)) setFocus(first);
      } catch (error) {
        say(`Not undone: ${error.message}`, true);
      }
    });
  }

  function counts() {
    const decided = items.filter((item) => item.decided !== null).length;
    const stale = items.filter((item) => item.state !== "ok").length;
    let text = `${items.length} photos · ${decided} decided · ${items.length - decided} to decide`;
    if (stale) text += ` · ${stale} changed or moved since the run`;
    $("counts").textContent = text;
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("button") && (event.key === " " || event.key === "Enter")) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const step = { ArrowRight: 1, s: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() }[key];
    if (labelOf.has(key)) decide(labelOf.get(key));
    else if (step !== undefined) {
      if (event.shiftKey && key.startsWith("Arrow")) select(focus, true);
      setFocus(focus + step);
      if (event.shiftKey && key.startsWith("Arrow")) select(focus, true);
    } else if (key === " ") select(focus, !selected.has(shown[focus]?.id));
    else if (key === "u") undo();
    else if (key === "Escape") clearSelection();
    else if (key === "Home") setFocus(0);
    else if (key === "End") setFocus(shown.length - 1);
    else return;
    event.preventDefault();
  });

  // --- the buttons ---------------------------------------------------------------------------

  function button(text, key, action) {
    const node = element("button");
    node.type = "button";
    node.append(`${text} `, element("kbd", "", key));
    node.addEventListener("click", action);
    return node;
  }

  FILTERS.forEach(([name, text]) => {
    const node = element("button", "", text);
    node.type = "button";
    node.dataset.filter = name;
    node.addEventListener("click", () => applyFilter(name));
    $("filters").append(node);
  });
  data.choices.forEach((label) => {
    const text = nameOf(label);
    $("actions").append(button(text[0].toUpperCase() + text.slice(1), keyOf.get(label), () => decide(label)));
  });
  $("actions").append(button("Skip", "s", () => setFocus(focus + 1)));
  const undoButton = button("Undo", "u", undo);
  undoButton.id = "undo";
  undoButton.disabled = true;
  $("actions").append(undoButton);
  $("keys").textContent = data.choices.map((label) => `${keyOf.get(label)} ${nameOf(label)}`).join(" · ");
  large.addEventListener("error", () => large.removeAttribute("src"));
  large.fetchPriority = "high";

  counts();
  applyFilter("all");
  document.body.dataset.ready = "true"; // the first screen is there: for tests and benchmarks
  performance.mark("catsort-review-ready");
})();
