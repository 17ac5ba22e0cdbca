// Look-up as you type on the declaration form: HS 2022 subheadings and CAS numbers fill the
// datalists; picking a CAS number fills an empty commodity code with the subheading it maps
// to. The look-up URLs come from the items table's data-lookup-hs and data-lookup-cas.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const table = document.getElementById("items");
    const body = table && table.querySelector("tbody");
    if (!body) return;
    const urls = { hs: table.dataset.lookupHs, cas: table.dataset.lookupCas };
    let timer = null;
    body.addEventListener("input", (event) => {
      const input = event.target;
      const kind = input.dataset.lookup;
      if (!kind) return;
      if (kind === "cas") {
        const code = input.closest("tr").querySelector("[data-lookup=hs]");
        const picked = document.querySelector(`#cas-suggestions option[value="${CSS.escape(input.value)}"]`);
        if (picked && code && !code.value) code.value = picked.dataset.hs;
      }
      clearTimeout(timer);
      timer = setTimeout(async () => {
        if (input.value.trim().length < 2) return;
        const response = await fetch(`${urls[kind]}?q=${encodeURIComponent(input.value.trim())}`);
        if (!response.ok) return;
        const list = document.getElementById(`${kind}-suggestions`);
        list.replaceChildren(...(await response.json()).results.map((row) => {
          const option = document.createElement("option");
          option.value = kind === "hs" ? row.code : row.cas_number;
          option.label = kind === "hs" ? row.description : `${row.name} → HS ${row.hs_code}`;
          option.dataset.hs = row.hs_code || "";
          return option;
        }));
      }, 200);
    });
  });
})();
