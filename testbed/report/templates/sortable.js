(function () {
  "use strict";
  // Click a header of a table.sortable to sort its rows by that column (again: reverse).
  // Cells carry their sort value in data-sort; empty values always sort last.
  function value(row, col) {
    var cell = row.cells[col];
    return cell ? cell.getAttribute("data-sort") || "" : "";
  }
  function compare(x, y) {
    if (x === "" || y === "") { return x === y ? 0 : (x === "" ? 1 : -1); }
    var nx = Number(x), ny = Number(y);
    if (!isNaN(nx) && !isNaN(ny)) { return nx - ny; }
    return x.localeCompare(y);
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.title = "sort by " + th.textContent;
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = value(a, col), y = value(b, col);
          if (x === "" || y === "") { return compare(x, y); }
          return ascending ? compare(x, y) : compare(y, x);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
