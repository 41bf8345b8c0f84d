// A little progressive enhancement; every page works without it.
document.addEventListener("DOMContentLoaded", function () {
  var add = document.getElementById("add-row");
  var rows = document.getElementById("item-rows");
  if (add && rows) {
    add.addEventListener("click", function () {
      var first = rows.querySelector(".item-row");
      if (!first) return;
      var row = first.cloneNode(true);
      row.querySelectorAll("input").forEach(function (i) { i.value = i.name === "qty" ? "1" : ""; });
      rows.appendChild(row);
      row.querySelector("input").focus();
    });
  }

  // the estimator's item list follows what is typed: the server finds items by name, part of a name,
  // English name or pinyin initials ("amxl"); the full list stays when the server cannot be asked
  var list = document.getElementById("catalogue");
  var timer = null;
  document.addEventListener("input", function (ev) {
    var box = ev.target;
    if (!list || !box || box.getAttribute("list") !== "catalogue") return;
    clearTimeout(timer);
    var q = box.value.trim();
    if (!q) return;
    timer = setTimeout(function () {
      fetch("/me/estimate/items?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (found) {
          if (!found || !found.length) return;
          list.textContent = "";
          found.forEach(function (it) {
            var opt = document.createElement("option");
            opt.value = it.label;
            // the browser shows an option only when what is typed is in its value or text
            opt.textContent = it.price + " · " + it.initials + " · " + it.code;
            list.appendChild(opt);
          });
        })
        .catch(function () {});
    }, 200);
  });
});
