// Live first-sync progress: while a first sync runs, the table on the
// connection page follows /api/connections/{id}/progress every two
// seconds (the session cookie signs the request in) and stops once every
// object is done. Without JavaScript the table shows the state at load.
(function () {
  "use strict";
  var table = document.querySelector("table[data-progress-url]");
  if (!table) return;
  var url = table.getAttribute("data-progress-url");
  var body = table.querySelector("tbody");
  var status = document.getElementById("progress-status");

  function cell(text, numeric) {
    var td = document.createElement("td");
    if (numeric) td.className = "num";
    td.textContent = text;
    return td;
  }

  function render(list) {
    var rows = document.createDocumentFragment();
    var running = false;
    list.forEach(function (b) {
      if (b.state !== "done") running = true;
      var tr = document.createElement("tr");
      tr.appendChild(cell(b.object));
      tr.appendChild(cell(b.system));
      tr.appendChild(cell(String(b.done), true));
      tr.appendChild(cell(String(b.total), true));
      tr.appendChild(cell(String(b.rate_per_sec), true));
      tr.appendChild(cell(Math.round(b.eta_seconds) + " s", true));
      tr.appendChild(cell(b.state));
      rows.appendChild(tr);
    });
    body.replaceChildren(rows);
    return running;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        var running = render(data.backfills || []);
        if (status) status.textContent = running ? "Updating every 2 s." : "First sync done.";
        if (running) setTimeout(poll, 2000);
      })
      .catch(function (err) {
        if (status) status.textContent = "Progress could not be refreshed (" + err.message + "); reload the page.";
      });
  }
  setTimeout(poll, 2000);
})();
