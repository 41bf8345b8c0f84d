// Dashboard charts: ECharts vendored by yibao.simulate, data from /dashboard/data.json.
(function () {
  var EN = document.documentElement.lang === "en";
  function L(zh, en) { return EN ? en : zh; }  // chart text in the page's language
  function yuan(fen) { return fen / 100; }  // display only; amounts arrive as integer fen
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") return;
    var c = echarts.init(el);
    c.setOption(option);
    window.addEventListener("resize", function () { c.resize(); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    fetch("/dashboard/data.json", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (d) {
      var series = [], months = [];
      Object.keys(d.fund).forEach(function (name) {
        var rows = d.fund[name];
        rows.forEach(function (r) { if (months.indexOf(r.month) < 0) months.push(r.month); });
        series.push({ name: name + L(" 收入", " income"), type: "bar", data: rows.map(function (r) { return yuan(r.income); }) });
        series.push({ name: name + L(" 支出", " expenditure"), type: "bar", data: rows.map(function (r) { return yuan(r.expenditure); }) });
        series.push({ name: name + L(" 可支付月数", " months"), type: "line", yAxisIndex: 1, data: rows.map(function (r) { return r.months_payable; }),
          markLine: { silent: true, symbol: "none", data: [{ yAxis: d.bands.red_below }, { yAxis: d.bands.amber_below }] } });
      });
      months.sort();
      chart("chart-fund", { tooltip: { trigger: "axis" }, legend: { type: "scroll" }, xAxis: { type: "category", data: months },
        yAxis: [{ type: "value", name: L("元", "yuan") }, { type: "value", name: L("月", "months") }], series: series });
      chart("chart-month", { title: { text: L("按月结算", "by month"), textStyle: { fontSize: 14 } }, tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: d.by_month.map(function (r) { return r.month; }) }, yAxis: { type: "value" },
        series: [{ name: L("医疗费", "total"), type: "bar", data: d.by_month.map(function (r) { return yuan(r.medfee); }) },
                 { name: L("基金", "funds"), type: "bar", data: d.by_month.map(function (r) { return yuan(r.fund); }) }] });
      chart("chart-level", { title: { text: L("按医院等级", "by level"), textStyle: { fontSize: 14 } }, tooltip: {},
        series: [{ type: "pie", radius: "60%", data: d.by_level.map(function (r) { return { name: r.name, value: yuan(r.medfee) }; }) }] });
      chart("chart-district", { title: { text: L("按区县", "by district"), textStyle: { fontSize: 14 } }, tooltip: {},
        series: [{ type: "pie", radius: "60%", data: d.by_district.map(function (r) { return { name: r.name, value: yuan(r.medfee) }; }) }] });
    });
  });
})();
