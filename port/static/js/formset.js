// Lines of a Django formset laid out as a table, added and removed without a reload:
//   <table data-formset="items">, <template data-formset-template="items">,
//   <button data-formset-add="items">, and a [data-remove-item] button in each row.
// Removing a line renumbers the rest, so the formset's TOTAL_FORMS stays right.
(function () {
  "use strict";

  function renumber(body, prefix) {
    const pattern = new RegExp(`${prefix}-\\d+-`);
    Array.from(body.rows).forEach((row, index) => {
      row.querySelectorAll("[name],[id],[for]").forEach((el) => {
        ["name", "id", "for"].forEach((attr) => {
          if (el.hasAttribute(attr)) el.setAttribute(attr, el.getAttribute(attr).replace(pattern, `${prefix}-${index}-`));
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("table[data-formset]").forEach((table) => {
      const prefix = table.dataset.formset;
      const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
      const body = table.tBodies[0];
      const template = document.querySelector(`template[data-formset-template="${prefix}"]`);
      document.querySelector(`[data-formset-add="${prefix}"]`).addEventListener("click", () => {
        body.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__prefix__/g, total.value));
        total.value = Number(total.value) + 1;
      });
      body.addEventListener("click", (event) => {
        if (!event.target.matches("[data-remove-item]") || body.rows.length === 1) return;
        event.target.closest("tr").remove();
        renumber(body, prefix);
        total.value = body.rows.length;
      });
    });
  });
})();
