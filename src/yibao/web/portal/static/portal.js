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
});
