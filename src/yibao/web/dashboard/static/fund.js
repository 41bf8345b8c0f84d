// Fund, assessment and network pages: ECharts vendored by yibao.simulate; data from JSON beside each page.
(function () {
  var EN = document.documentElement.lang === "en";
  function L(zh, en) { return EN ? en : zh; }  // chart text in the page's language
  function yuan(fen) { return fen === null || fen === undefined ? null : fen / 100; }  // display only
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") return null;
    var c = echarts.getInstanceByDom(el) || echarts.init(el);
    c.setOption(option, true);
    window.addEventListener("resize", function () { c.resize(); });
    return c;
  }
  function json(url) { return fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }); }
  function embedded(id) { var el = document.getElementById(id); return el ? JSON.parse(el.textContent) : null; }
  var BANDS = [3, 6, 9, 15];
  function bandLines() {
    return { silent: true, symbol: "none", lineStyle: { type: "dashed" },
      data: BANDS.map(function (b) { return { yAxis: b, label: { formatter: b + L(" 月", " months") } }; }) };
  }

  function accounts() {
    var pick = document.getElementById("fund-pick");
    if (!pick) return;
    json("/dashboard/fund/accounts.json").then(function (d) {
      function draw() {
        var f = d[pick.value]; if (!f) return;
        chart("chart-accounts", { tooltip: { trigger: "axis" }, legend: {},
          xAxis: { type: "category", data: f.months },
          yAxis: [{ type: "value", name: L("元", "yuan") }, { type: "value", name: L("月", "months") }],
          series: [
            { name: L("收入", "income"), type: "bar", data: f.income.map(yuan) },
            { name: L("支出", "payments"), type: "bar", data: f.payments.map(yuan) },
            { name: L("结余", "balance"), type: "line", data: f.closing.map(yuan) },
            { name: L("可支付月数", "months payable"), type: "line", yAxisIndex: 1, data: f.months_payable, markLine: bandLines() }
          ] });
      }
      pick.addEventListener("change", draw); draw();
    });
  }

  function projection() {
    var fsel = document.getElementById("proj-fund"), ssel = document.getElementById("proj-scenario");
    if (!fsel) return;
    json("/dashboard/fund/projection.json").then(function (p) {
      function draw() {
        var f = fsel.value, sc = p.scenarios[ssel.value], body = sc.funds[f];
        var hist = (p.history[f] || []);
        var months = hist.map(function (h) { return h.month; }).concat(p.months);
        var pad = hist.map(function () { return null; });
        var histLine = hist.map(function (h) { return h.months_payable; }).concat(p.months.map(function () { return null; }));
        function s(k) { return pad.concat(body.fan[k]); }
        function diff(a, b) { return pad.concat(body.fan[a].map(function (v, i) { var w = body.fan[b][i]; return v === null || w === null ? null : v - w; })); }
        chart("chart-fan", { tooltip: { trigger: "axis" }, legend: { data: [L("历史", "history"), L("中位数", "median"), "25–75%", "5–95%"] },
          xAxis: { type: "category", data: months }, yAxis: { type: "value", name: L("可支付月数", "months payable") },
          series: [
            { name: L("历史", "history"), type: "line", data: histLine, lineStyle: { width: 3 } },
            { name: "p5", type: "line", data: s("p5"), stack: "outer", lineStyle: { opacity: 0 }, symbol: "none" },
            { name: "5–95%", type: "line", data: diff("p95", "p5"), stack: "outer", lineStyle: { opacity: 0 }, symbol: "none", areaStyle: { opacity: 0.18 } },
            { name: "p25", type: "line", data: s("p25"), stack: "inner", lineStyle: { opacity: 0 }, symbol: "none" },
            { name: "25–75%", type: "line", data: diff("p75", "p25"), stack: "inner", lineStyle: { opacity: 0 }, symbol: "none", areaStyle: { opacity: 0.35 } },
            { name: L("中位数", "median"), type: "line", data: s("p50"), lineStyle: { width: 2 }, symbol: "none", markLine: bandLines() }
          ] });
      }
      fsel.addEventListener("change", draw); ssel.addEventListener("change", draw); draw();
      var bt = p.backtest;
      if (bt) {
        chart("chart-backtest", { tooltip: { trigger: "axis" }, legend: {},
          xAxis: { type: "category", data: bt.series.months }, yAxis: { type: "value", name: L("元", "yuan") },
          series: [
            { name: L("实际（生成数据）", "actual (generated)"), type: "line", data: bt.series.actual_fen.map(yuan) },
            { name: L("预测", "projected"), type: "line", data: bt.series.projected_fen.map(yuan) },
            { name: "p5", type: "line", data: bt.series.p5_fen.map(yuan), lineStyle: { type: "dotted" }, symbol: "none" },
            { name: "p95", type: "line", data: bt.series.p95_fen.map(yuan), lineStyle: { type: "dotted" }, symbol: "none" }
          ] });
      }
    });
  }

  function budget() {
    var d = embedded("budget-data"); if (!d) return;
    chart("chart-budget", { tooltip: { trigger: "axis" }, legend: {}, xAxis: { type: "category", data: d.codes, axisLabel: { rotate: 45 } },
      yAxis: { type: "value", name: L("元", "yuan") },
      series: [{ name: L("预算", "budget"), type: "bar", data: d.budget.map(yuan) }, { name: L("实际", "actual"), type: "bar", data: d.actual.map(yuan) }] });
  }

  function scores() {
    var d = embedded("scores-data"); if (!d) return;
    chart("chart-scores", { tooltip: {}, xAxis: { type: "category", data: d.codes, axisLabel: { rotate: 45 } }, yAxis: { type: "value", max: 100, name: L("分", "points") },
      series: [{ name: L("得分", "score"), type: "bar", data: d.scores, markLine: { silent: true, data: [{ yAxis: 60 }, { yAxis: 90 }] } }] });
  }

  function network() {
    var tsel = document.getElementById("net-tier");
    if (!tsel) return;
    Promise.all([json("/dashboard/fund/region.geojson"), json("/dashboard/fund/network.json")]).then(function (xs) {
      echarts.registerMap("yibao-region", xs[0]);
      var r = xs[1];
      function draw() {
        var tier = tsel.value;
        var area = r.beyond.filter(function (b) { return b.tier === tier; }).map(function (b) { return { name: b.district, value: b.beyond_share / 100 }; });
        var inst = r.institutions.filter(function (i) { return i.tier === tier; }).map(function (i) { return { name: i.name || i.fixmedins_code, value: [i.lon, i.lat] }; });
        var sites = r.sites.filter(function (s) { return s.tier === tier; }).map(function (s) { return { name: L("建议 #", "suggested #") + s.rank + " +" + s.gain, value: [s.lon, s.lat] }; });
        chart("chart-map", {
          tooltip: { trigger: "item" },
          visualMap: { min: 0, max: 100, text: [L("超出时间线（%）", "% beyond the line"), ""], calculable: true, inRange: { color: ["#e8f5e9", "#ffcc80", "#c62828"] }, seriesIndex: 0 },
          geo: { map: "yibao-region", roam: true, label: { show: true, fontSize: 10 }, itemStyle: { borderColor: "#555" } },
          series: [
            { name: L("超出时间线的居民（%）", "residents beyond the line (%)"), type: "map", geoIndex: 0, data: area },
            { name: L("定点机构", "institutions"), type: "scatter", coordinateSystem: "geo", data: inst, symbolSize: 7, itemStyle: { color: "#1565c0" } },
            { name: L("建议新增", "suggested"), type: "effectScatter", coordinateSystem: "geo", data: sites, symbolSize: 12, itemStyle: { color: "#2e7d32" } }
          ] });
      }
      tsel.addEventListener("change", draw); draw();
    });
  }

  document.addEventListener("DOMContentLoaded", function () { accounts(); projection(); budget(); scores(); network(); });
})();
