// The static λ explorer: sliders pick a pre-rendered picture (book/make_explorer.py wrote
// window.EXPLORER_INDEX and the pictures into _static/explorer/). No kernel, no server.
(function () {
  "use strict";
  var index = window.EXPLORER_INDEX;
  var $ = function (id) { return document.getElementById(id); };
  var datasetBox = $("explorer-dataset");
  var sliders = { g: $("explorer-lambda-g"), d: $("explorer-lambda-d"), s: $("explorer-seed") };
  var shown = { g: $("explorer-lambda-g-value"), d: $("explorer-lambda-d-value"), s: $("explorer-seed-value") };
  var fmt = function (x) { return x === 0 ? "0" : x.toExponential(0); };

  function grid() { return index.datasets[datasetBox.value]; }

  function show() {
    var g = grid(), ig = +sliders.g.value, id = +sliders.d.value, seed = g.seeds[+sliders.s.value];
    shown.g.textContent = fmt(g.lambda_g[ig]);
    shown.d.textContent = fmt(g.lambda_d[id]);
    shown.s.textContent = String(seed);
    var name = datasetBox.value + "_g" + ig + "_d" + id + "_s" + seed + ".webp";
    $("explorer-image").src = "_static/explorer/" + name;
    $("explorer-caption").textContent = datasetBox.value + ": λ_G = " + g.lambda_g[ig] + ", λ_D = " +
      g.lambda_d[id] + ", seed " + seed + " (" + g.steps + " training steps)";
  }

  function setRanges() {
    var g = grid();
    sliders.g.max = g.lambda_g.length - 1;
    sliders.d.max = g.lambda_d.length - 1;
    sliders.s.max = g.seeds.length - 1;
    show();
  }

  Object.keys(index.datasets).forEach(function (name) {
    var option = document.createElement("option");
    option.value = option.textContent = name;
    datasetBox.appendChild(option);
  });
  datasetBox.addEventListener("change", setRanges);
  Object.keys(sliders).forEach(function (k) { sliders[k].addEventListener("input", show); });
  setRanges();
})();
