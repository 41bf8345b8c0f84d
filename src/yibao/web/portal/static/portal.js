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

  // 定点机构查询: the location is asked of the browser only when the person presses the button, and goes
  // with that one search (two form fields); nothing keeps it
  var locate = document.getElementById("my-location");
  var finder = document.getElementById("find");
  if (locate && finder && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          ["lat", "lon"].forEach(function (name) {
            var box = finder.querySelector("input[name=" + name + "]");
            if (!box) {
              box = document.createElement("input");
              box.type = "hidden";
              box.name = name;
              finder.appendChild(box);
            }
            box.value = (name === "lat" ? pos.coords.latitude : pos.coords.longitude).toFixed(3);
          });
          var from = finder.querySelector("select[name=near]");
          if (from) from.value = "";
          var order = finder.querySelector("select[name=sort]");
          if (order) order.value = "distance";
          finder.submit();
        },
        function () {
          var note = document.getElementById("location-note");
          if (note) { note.textContent = locate.getAttribute("data-error"); note.setAttribute("role", "alert"); }
        },
        { maximumAge: 60000, timeout: 10000 }
      );
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
