// trialdb: small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Show-if: a field is shown only when another field has a given value.
  function valueOf(form, name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    if (!inputs.length) return null;
    var first = inputs[0];
    if (first.type === "radio") {
      for (var i = 0; i < inputs.length; i++) if (inputs[i].checked) return inputs[i].value;
      return "";
    }
    if (first.type === "checkbox") return first.checked ? "true" : "";
    return first.value;
  }
  function holds(value, when) {
    if (when === "any") return value !== null && value !== "";
    if (when === "positive") return parseFloat(value) > 0;
    if (when === "true") return value === "yes" || value === "true" || value === "y";
    if (when === "false") return value === "no";
    return value === when;
  }
  function applyShowIf(form) {
    form.querySelectorAll("[data-show-if]").forEach(function (field) {
      var shown = holds(valueOf(form, field.dataset.showIf), field.dataset.showWhen);
      field.classList.toggle("is-hidden", !shown);
    });
  }
  document.querySelectorAll("form.crf").forEach(function (form) {
    applyShowIf(form);
    form.addEventListener("input", function () { applyShowIf(form); });
    form.addEventListener("change", function () { applyShowIf(form); });
  });

  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  document.querySelectorAll("[data-back]").forEach(function (el) {
    el.addEventListener("click", function (e) {
      if (history.length > 1) { e.preventDefault(); history.back(); }
    });
  });

  // Viral-load grid: Enter moves down a column, live preview through the JSON endpoint.
  var grid = document.getElementById("load-grid");
  if (!grid) return;
  var tbody = grid.querySelector("tbody");
  var counter = document.getElementById("row_count");
  var token = grid.querySelector('[name="csrf_token"]').value;
  var fields = ["sampled_on", "virus", "specimen", "assay_id", "result", "unit"];

  function rowData(tr) {
    var i = tr.dataset.row, data = {};
    fields.forEach(function (f) {
      var el = tr.querySelector('[name="rows-' + i + "-" + f + '"]');
      data[f] = el ? el.value : "";
    });
    return data;
  }
  function addRows(n) {
    var rows = tbody.querySelectorAll("tr");
    var template = rows[rows.length - 1];
    for (var k = 0; k < n; k++) {
      var index = tbody.querySelectorAll("tr").length;
      var copy = template.cloneNode(true);
      copy.dataset.row = index;
      copy.className = "";
      copy.querySelector("td").textContent = index + 1;
      copy.querySelectorAll(".error").forEach(function (e) { e.remove(); });
      copy.querySelector("[data-preview]").innerHTML = "";
      copy.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(/^rows-\d+-/, "rows-" + index + "-");
        if (el.tagName === "INPUT") el.value = "";
        if (el.name.endsWith("-assay_id") || el.name.endsWith("-unit")) el.value = "";
      });
      tbody.appendChild(copy);
    }
    counter.value = tbody.querySelectorAll("tr").length;
  }
  document.getElementById("add-rows").addEventListener("click", function () { addRows(5); });

  grid.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.target.tagName === "BUTTON") return;
    e.preventDefault();
    var td = e.target.closest("td"), tr = e.target.closest("tr");
    var col = Array.prototype.indexOf.call(tr.children, td);
    var next = tr.nextElementSibling;
    if (!next) { addRows(5); next = tr.nextElementSibling; }
    var target = next.children[col].querySelector("input, select");
    if (target) target.focus();
  });

  // Copy the previous row's virus, specimen and assay into a new row on first typing.
  grid.addEventListener("focusin", function (e) {
    var tr = e.target.closest("tr");
    if (!tr || !tr.previousElementSibling) return;
    var data = rowData(tr);
    if (data.sampled_on || data.result) return;
    var prev = rowData(tr.previousElementSibling);
    if (!prev.assay_id) return;
    ["virus", "specimen", "assay_id"].forEach(function (f) {  // never the unit: it must be read
      var el = tr.querySelector('[name="rows-' + tr.dataset.row + "-" + f + '"]');
      if (el && !el.value) el.value = prev[f];
    });
  });

  var timer = null;
  function preview(tr) {
    var data = rowData(tr);
    var cell = tr.querySelector("[data-preview]");
    if (!data.sampled_on && !data.result) { cell.innerHTML = ""; tr.className = ""; return; }
    fetch(grid.dataset.previewUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token, "Accept": "application/json" },
      body: JSON.stringify({ rows: [data] })
    }).then(function (r) { return r.json(); }).then(function (body) {
      var row = body.rows && body.rows[0];
      tr.querySelectorAll("p.error").forEach(function (p) { p.remove(); });
      cell.textContent = "";
      if (!row) return;
      tr.className = row.ok ? "row-ok" : "row-error";
      if (row.state) {
        var badge = document.createElement("span");
        badge.className = "badge state-" + row.state;
        badge.textContent = { quantified: grid.dataset.q || "✓", below_lloq: "< LQ", not_detected: "ND" }[row.state];
        if (row.state === "quantified") badge.textContent = row.value + " " + (row.unit || "?");
        cell.appendChild(badge);
      }
      if (row.log10) {
        var log = document.createElement("span");
        log.className = "mono"; log.textContent = "log10 " + row.log10;
        cell.appendChild(log);
      }
      if (row.day !== null && row.day !== undefined) {
        var day = document.createElement("span");
        day.className = "muted small"; day.textContent = "J" + row.day;
        cell.appendChild(day);
      }
      Object.keys(row.errors || {}).forEach(function (f) {
        var el = tr.querySelector('[name="rows-' + tr.dataset.row + "-" + f + '"]');
        if (!el) return;
        var p = document.createElement("p");
        p.className = "error"; p.dataset.field = f; p.textContent = row.errors[f];
        el.parentNode.appendChild(p);
      });
    }).catch(function () { /* the server-side preview button still works */ });
  }
  grid.addEventListener("change", function (e) {
    var tr = e.target.closest("tr[data-row]");
    if (!tr) return;
    clearTimeout(timer);
    timer = setTimeout(function () { preview(tr); }, 150);
  });
})();
