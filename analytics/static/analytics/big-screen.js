// The port map's big screen: dark and large, and a double-click toggles full screen.
(function () {
  "use strict";
  document.body.classList.add("big-screen");
  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("map-body").addEventListener("dblclick", () => {
      if (document.fullscreenElement) {
        document.exitFullscreen();
      } else {
        document.documentElement.requestFullscreen().catch(() => {});
      }
    });
  });
})();
