// Light/dark preference: "auto" follows the system; the toggle cycles auto → dark → light.
(function () {
  var root = document.documentElement;
  var saved = localStorage.getItem("atelier-theme");
  if (saved) root.setAttribute("data-theme", saved);
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-theme-toggle]")) return;
    var order = ["auto", "dark", "light"];
    var next = order[(order.indexOf(root.getAttribute("data-theme")) + 1) % order.length];
    root.setAttribute("data-theme", next);
    localStorage.setItem("atelier-theme", next);
  });
})();
