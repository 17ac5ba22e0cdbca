// A checkbox with data-select-all="NAME" ticks or clears every checkbox named NAME in its form.
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    const master = event.target;
    if (!master.matches || !master.matches("input[type=checkbox][data-select-all]")) {
      return;
    }
    const name = master.dataset.selectAll;
    master.form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) {
      box.checked = master.checked;
    });
  });
})();
