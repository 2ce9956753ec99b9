// envmine review: keyboard shortcuts. Plain script, no build step; the page's CSP allows only
// this file. Shortcuts never fire while a text field has the focus (Esc leaves it).
(function () {
  "use strict";
  function typing(el) {
    return el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
      (el.tagName === "INPUT" && !["radio", "checkbox", "submit", "button"].includes(el.type)));
  }
  function rows() { return Array.from(document.querySelectorAll("tr[data-href]")); }
  let current = -1;
  function select(n) {
    const all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(all.length - 1, n));
    all.forEach((r, i) => r.classList.toggle("sel", i === current));
    all[current].scrollIntoView({ block: "nearest" });
  }
  function submit(next) {
    const form = document.getElementById("judge");
    if (!form) return;
    const flag = document.getElementById("next");
    if (flag) flag.value = next ? "1" : "";
    form.submit();
  }
  function cycle(fieldset) {
    const radios = Array.from(fieldset.querySelectorAll("input[type=radio]"));
    const at = radios.findIndex((r) => r.checked);
    radios[(at + 1) % radios.length].checked = true;
  }
  document.addEventListener("click", function (ev) {
    const button = ev.target.closest("button[data-next]");
    if (button) { ev.preventDefault(); submit(true); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "Escape") { document.activeElement.blur(); document.getElementById("help").hidden = true; return; }
    if (typing(document.activeElement)) return;
    const key = ev.key;
    if (key === "?") { const h = document.getElementById("help"); h.hidden = !h.hidden; return; }
    if (key === "g") { window.location.href = "/queue"; return; }
    if (rows().length) {
      if (key === "j") { select(current + 1); return; }
      if (key === "k") { select(current - 1); return; }
      if (key === "Enter" && current >= 0) { window.location.href = rows()[current].dataset.href; return; }
    }
    if (key === "s") { ev.preventDefault(); submit(false); return; }
    if (key === "n") { ev.preventDefault(); submit(true); return; }
    if (key === "i") {
      const box = document.getElementById("statement-input");
      if (box) { ev.preventDefault(); box.focus(); }
      return;
    }
    const fieldset = document.querySelector('fieldset[data-cycle="' + CSS.escape(key) + '"]');
    if (fieldset) { cycle(fieldset); return; }
    const input = document.querySelector('input[data-key="' + CSS.escape(key) + '"]');
    if (input) {
      if (input.type === "checkbox") input.checked = !input.checked; else input.checked = true;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
})();
