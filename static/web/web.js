// Run page: while the run is started, poll its progress JSON every 2 seconds and update the
// progress bar, stage and counters; when it finishes, reload once so the page shows the
// final state, its invoices, errors and actions. Without JavaScript the page still works
// (reload it by hand).
(function () {
  "use strict";
  var box = document.getElementById("run-progress");
  if (!box || box.dataset.status !== "started") return;
  var url = box.dataset.url;
  var bar = document.getElementById("run-bar");
  var percent = document.getElementById("run-percent");

  function setText(selector, value) {
    var el = box.querySelector(selector);
    if (el && value !== undefined && value !== null) el.textContent = String(value);
  }

  function update(data) {
    bar.value = data.progress;
    bar.textContent = data.progress + "%";
    percent.textContent = data.progress + "%";
    setText('[data-field="stage_display"]', data.stage_display);
    setText('[data-field="chunks_done"]', data.chunks_done);
    setText('[data-field="chunks_total"]', data.chunks_total);
    Object.keys(data.counters).forEach(function (name) {
      setText('[data-counter="' + name + '"]', data.counters[name]);
    });
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        update(data);
        if (data.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000); // a hiccup: try again a little later
      });
  }

  window.setTimeout(poll, 2000);
})();
