// An entity's neighbourhood with vis-network: window.GeoKG.graph(options) draws the nodes
// and labelled edges of /api/v1/neighbourhood/{id}. The entity is a box, the statements
// it takes part in are small dots, other entities ellipses; dashed edges are derived or
// inferred, solid ones stated. Clicking a node opens its page.
(() => {
  "use strict";
  const GeoKG = (window.GeoKG = window.GeoKG || {});

  const COLOURS = {
    focus: { background: "#1f5fa8", border: "#123b69", font: "#ffffff" },
    entity: { background: "#dbe8f7", border: "#1f5fa8", font: "#1d232a" },
    statement: { background: "#f3e9f7", border: "#7b3b99", font: "#4d2a5c" },
  };

  const short = (text, n = 28) => (text && text.length > n ? text.slice(0, n - 1) + "…" : text || "");

  // options: {container, status, url}
  GeoKG.graph = async function graph(options) {
    const { container, status } = options;
    const say = (text) => {
      if (status) status.textContent = text;
    };
    say("Loading the neighbourhood…");
    let found;
    try {
      const response = await fetch(options.url, { headers: { Accept: "application/json" } });
      found = await response.json();
      if (!response.ok) throw new Error(found.detail || found.title || response.statusText);
    } catch (error) {
      say(`The graph could not be loaded: ${error.message}`);
      container.dataset.state = "error";
      return null;
    }
    container.dataset.nodes = String(found.nodes.length);
    container.dataset.edges = String(found.edges.length);
    if (typeof vis === "undefined" || !vis.Network) {
      say("The graph library is not installed: run make install.");
      container.dataset.state = "no-library";
      return null;
    }
    const nodes = new vis.DataSet(
      found.nodes.map((n) => {
        const colour = COLOURS[n.kind] || COLOURS.entity;
        return {
          id: n.iri,
          label: n.kind === "statement" ? short(n.label, 34) : short(n.label),
          title: `${n.label}${n.class ? " (" + n.class + ")" : ""}${n.date ? " · " + n.date : ""}`,
          shape: n.kind === "focus" ? "box" : n.kind === "statement" ? "dot" : "ellipse",
          size: n.kind === "statement" ? 7 : undefined,
          color: { background: colour.background, border: colour.border },
          font: { color: colour.font, size: n.kind === "statement" ? 11 : 15 },
          href: n.href,
          kind: n.kind,
        };
      }),
    );
    const edges = new vis.DataSet(
      found.edges.map((e, i) => ({
        id: i,
        from: e.from,
        to: e.to,
        label: e.label,
        title: `${e.label} (${e.origin.join(", ")})`,
        arrows: "to",
        dashes: !e.origin.includes("stated"),
        font: { size: 10, align: "middle", color: "#5b6570" },
        color: { color: "#9aa5b1" },
        smooth: { type: "dynamic" },
      })),
    );
    const network = new vis.Network(
      container,
      { nodes, edges },
      {
        physics: {
          solver: "forceAtlas2Based",
          forceAtlas2Based: { gravitationalConstant: -35, springLength: 70, avoidOverlap: 0.4 },
          stabilization: { iterations: 250 },
        },
        interaction: { hover: true, tooltipDelay: 150, navigationButtons: false, keyboard: false },
        layout: { improvedLayout: found.nodes.length < 120 },
      },
    );
    network.once("stabilizationIterationsDone", () => {
      network.setOptions({ physics: false });
      network.fit({ animation: false });
      // Many neighbours fit only when small: zoom in on the entity until labels read.
      if (network.getScale() < 0.75) {
        network.moveTo({ position: network.getPositions([found.focus])[found.focus], scale: 0.75 });
      }
      container.dataset.state = "stable";
    });
    network.on("click", (params) => {
      if (!params.nodes.length) return;
      const node = nodes.get(params.nodes[0]);
      if (node && node.href && node.kind !== "focus") window.location.href = node.href;
    });
    network.on("hoverNode", () => (container.style.cursor = "pointer"));
    network.on("blurNode", () => (container.style.cursor = "default"));
    GeoKG.network = { network, nodes, edges };
    container.dataset.state = container.dataset.state || "drawn";
    const more = found.truncated ? " (the nearest only: it has more)" : "";
    say(`${found.nodes.length - 1} neighbours and statements, ${found.edges.length} links${more}. Click a node to open it; dashed links are derived or inferred.`);
    return network;
  };
})();
