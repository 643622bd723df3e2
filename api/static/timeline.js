// Timelines with vis-timeline: window.GeoKG.timeline(options) draws the dated things
// /api/v1/timeline returns, grouped by their class, and lists them below as plain links
// (for readers without the chart). Selecting an item opens its page.
(() => {
  "use strict";
  const GeoKG = (window.GeoKG = window.GeoKG || {});

  const slug = (text) => (text || "").toLowerCase().replace(/[^a-z0-9]+/g, "-");

  const shownDate = (item) => {
    const d = item.start || "";
    if (item.precision === "year") return d.slice(0, 4);
    if (item.precision === "month") return d.slice(0, 7);
    return d;
  };

  function element(tag, text, cls) {
    const el = document.createElement(tag);
    if (text != null) el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  function tooltip(item) {
    const lines = [item.label, `${item.class ? item.class.label + " · " : ""}${shownDate(item)}${item.end ? " – " + item.end : ""}`];
    const who = (item.involves || []).map((t) => t.label).slice(0, 6);
    if (who.length) lines.push(who.join(", "));
    const box = element("div");
    lines.forEach((line, i) => {
      if (i) box.append(document.createElement("br"));
      box.append(document.createTextNode(line));
    });
    return box;
  }

  function list(target, items) {
    target.replaceChildren();
    for (const item of items) {
      const li = element("li");
      const time = element("time", shownDate(item) + (item.end ? ` – ${item.end}` : ""));
      time.dateTime = item.start;
      li.append(time);
      if (item.href) {
        const a = element("a", item.label);
        a.href = item.href;
        li.append(a);
      } else {
        li.append(element("span", item.label));
      }
      if (item.class) li.append(element("span", item.class.label, "tag"));
      target.append(li);
    }
  }

  // options: {container, list, status, url, height}
  GeoKG.timeline = async function timeline(options) {
    const { container, status } = options;
    const say = (text) => {
      if (status) status.textContent = text;
    };
    say("Loading the timeline…");
    // Filters can change faster than answers come back: only the latest request draws.
    const mine = (container.geokgRequest = (container.geokgRequest || 0) + 1);
    const stale = () => container.geokgRequest !== mine;
    let page;
    try {
      const response = await fetch(options.url, { headers: { Accept: "application/json" } });
      page = await response.json();
      if (stale()) return null;
      if (!response.ok) throw new Error(page.detail || page.title || response.statusText);
    } catch (error) {
      if (stale()) return null;
      say(`The timeline could not be loaded: ${error.message}`);
      container.dataset.state = "error";
      return null;
    }
    const items = page.items.filter((item) => item.start);
    if (options.list) list(options.list, items);
    if (GeoKG.current) {
      GeoKG.current.destroy();
      GeoKG.current = null;
    }
    container.replaceChildren();
    container.dataset.count = String(items.length);
    if (items.length === 0) {
      say("Nothing dated matches.");
      container.dataset.state = "empty";
      return null;
    }
    if (typeof vis === "undefined" || !vis.Timeline) {
      say(`${items.length} dated items (the chart library is not installed: run make install).`);
      container.dataset.state = "no-library";
      return null;
    }
    const groups = new Map();
    const data = items.map((item) => {
      const group = item.class ? item.class.iri : "other";
      if (!groups.has(group)) groups.set(group, item.class ? item.class.label : "other");
      const entry = {
        id: item.iri,
        content: element("span", item.label),
        start: item.start,
        type: item.end ? "range" : "point",
        group,
        title: tooltip(item).outerHTML,
        className: "kind-" + slug(item.class && item.class.label),
        href: item.href,
      };
      if (item.end) entry.end = item.end;
      return entry;
    });
    const groupList = [...groups].sort((a, b) => a[1].localeCompare(b[1]));
    // Open on the span of the items (not on today, then moving): a little margin each side.
    const times = data.flatMap((d) => [Date.parse(d.start), d.end ? Date.parse(d.end) : NaN]).filter(Number.isFinite);
    const first = Math.min(...times);
    const last = Math.max(...times);
    const margin = Math.max((last - first) * 0.05, 1000 * 60 * 60 * 24 * 30);
    const chart = new vis.Timeline(
      container,
      new vis.DataSet(data),
      new vis.DataSet(groupList.map(([id, label]) => ({ id, content: label }))),
      {
        stack: true,
        start: new Date(first - margin),
        end: new Date(last + margin * 4),
        maxHeight: options.height || 560,
        zoomMin: 1000 * 60 * 60 * 24 * 7,
        orientation: { axis: "top", item: "top" },
        verticalScroll: true,
        tooltip: { followMouse: true, overflowMethod: "cap" },
        selectable: true,
      },
    );
    chart.on("select", (props) => {
      const item = data.find((d) => d.id === props.items[0]);
      if (item && item.href) window.location.href = item.href;
    });
    GeoKG.current = chart;
    // "drawn" once the chart has laid its items out (tests and screenshots wait for it).
    chart.once("changed", () => {
      container.dataset.state = "drawn";
    });
    const more = page.total > items.length ? ` (the first ${items.length} of ${page.total})` : "";
    say(`${items.length} dated events and statements${more}. Drag to move, scroll to zoom, click one to open it.`);
    return chart;
  };
})();
