// Search suggestions as you type, for every <input data-suggest> in a search form.
// Asks /api/v1/search (case, accents and punctuation ignored) and lists the best matches
// as links to their pages; arrow keys move, Enter follows, Escape closes.
(() => {
  "use strict";

  const entityPath = (id) => "/id/" + id.split("/").map(encodeURIComponent).join("/");

  function attach(input, n) {
    const list = document.createElement("ul");
    list.className = "suggestions";
    list.id = `${input.id || "search"}-suggestions-${n}`;
    list.setAttribute("role", "listbox");
    list.hidden = true;
    input.after(list);
    input.setAttribute("autocomplete", "off");
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");

    let timer = 0;
    let asked = 0;
    let active = -1;

    const close = () => {
      list.hidden = true;
      list.replaceChildren();
      active = -1;
      input.setAttribute("aria-expanded", "false");
    };

    const mark = (i) => {
      const rows = list.querySelectorAll("li");
      rows.forEach((li, j) => li.setAttribute("aria-selected", String(i === j)));
      active = i;
    };

    const show = (items) => {
      list.replaceChildren();
      for (const item of items) {
        if (!item.id) continue;
        const li = document.createElement("li");
        li.setAttribute("role", "option");
        const a = document.createElement("a");
        a.href = entityPath(item.id);
        a.textContent = item.label || item.id;
        const type = (item.types || [])[0];
        if (type && type.label) {
          const span = document.createElement("span");
          span.className = "muted";
          span.textContent = type.label;
          a.append(span);
        }
        if (item.matched && !item.matched.exact && item.matched.text !== item.label) {
          a.title = `matched “${item.matched.text}”`;
        }
        li.append(a);
        list.append(li);
      }
      list.hidden = list.children.length === 0;
      input.setAttribute("aria-expanded", String(!list.hidden));
      active = -1;
    };

    const ask = async () => {
      const q = input.value.trim();
      const mine = ++asked;
      if (!/[\p{L}\p{N}]/u.test(q)) return close();
      try {
        const params = new URLSearchParams({ q, limit: "8" });
        const response = await fetch(`/api/v1/search?${params}`, {
          headers: { Accept: "application/json" },
        });
        if (mine !== asked) return;
        if (!response.ok) return close();
        show((await response.json()).items || []);
      } catch {
        if (mine === asked) close();
      }
    };

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(ask, 120);
    });
    input.addEventListener("keydown", (event) => {
      const rows = list.querySelectorAll("li a");
      if (list.hidden || rows.length === 0) return;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        mark((active + 1) % rows.length);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        mark((active - 1 + rows.length) % rows.length);
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault();
        window.location.href = rows[active].href;
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", () => setTimeout(close, 200));
  }

  document.querySelectorAll("input[data-suggest]").forEach(attach);
})();
