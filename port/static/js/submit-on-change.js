// A control with data-submit-on-change submits its form when changed (the language menu).
(function () {
  "use strict";
  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches("[data-submit-on-change]")) {
      event.target.form.submit();
    }
  });
})();
