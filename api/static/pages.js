// Wires the charts on a page: any [data-timeline-url] becomes a timeline, any
// [data-graph-url] a neighbourhood graph, and a form.timeline-filters redraws its
// timeline when a filter changes (and keeps the filters in the address, to share).
(() => {
  "use strict";
  const GeoKG = window.GeoKG || {};
  const byId = (id) => (id ? document.getElementById(id) : null);

  function drawTimeline(el, url) {
    return GeoKG.timeline({
      container: el,
      url,
      list: byId(el.dataset.list),
      status: byId(el.dataset.status),
      height: Number(el.dataset.height) || undefined,
    });
  }

  for (const el of document.querySelectorAll("[data-graph-url]")) {
    GeoKG.graph({ container: el, url: el.dataset.graphUrl, status: byId(el.dataset.status) });
  }

  for (const el of document.querySelectorAll("[data-timeline-url]")) {
    const form = document.querySelector(`form[data-for="${el.id}"]`);
    if (!form) {
      drawTimeline(el, el.dataset.timelineUrl);
      continue;
    }
    const urlFor = () => {
      const params = new URLSearchParams();
      for (const [name, value] of new FormData(form)) {
        if (value) params.append(name, value);
      }
      return params;
    };
    const redraw = () => {
      const params = urlFor();
      const query = params.toString();
      history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
      return drawTimeline(el, `${el.dataset.timelineUrl}?${query}`);
    };
    form.addEventListener("change", redraw);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      redraw();
    });
    form.addEventListener("reset", () => setTimeout(redraw, 0));
    redraw();
  }
})();
