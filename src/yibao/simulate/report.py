"""Outputs: a single self-contained HTML file (ECharts inlined from the package) and a JSON dict.

The HTML references nothing outside itself: no CDN, no fonts, no images by URL.  The vendored ECharts
(Apache-2.0, see static/ECHARTS-LICENSE.txt and ECHARTS-NOTICE.txt) is read with importlib.resources
and inlined; the report's numbers travel as JSON in a ``<script type="application/json">`` block.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from yibao.money import fen_to_yuan
from yibao.simulate.core import DIMENSIONS, SimulationReport
from yibao.simulate.narrative import BANDS, yuan

ECHARTS_PATH = Path(__file__).parent / "static" / "echarts.min.js"  # vendored Apache ECharts


def _with_yuan(obj: Any) -> Any:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out[k] = _with_yuan(v)
            if isinstance(k, str) and k.endswith("_fen") and isinstance(v, int) and not isinstance(v, bool):
                out[k[:-4] + "_yuan"] = str(fen_to_yuan(v))
        return out
    if isinstance(obj, list | tuple):
        return [_with_yuan(v) for v in obj]
    if isinstance(obj, float) and obj != obj:  # NaN → null
        return None
    return obj


def to_json(report: SimulationReport) -> dict[str, Any]:
    """The report for machines: money in integer fen (``*_fen``) plus ``*_yuan`` decimal strings."""
    body = {
        "format": "yibao.simulation/1",
        "meta": report.meta,
        "narrative": report.narrative,
        "policy_diff": report.policy_diff,
        "funds": report.funds,
        "oop": report.oop,
        "effective_ratio": report.ratios,
        "oop_by_quintile": report.oop_by_quintile,
        "che": report.che,
        "equity": report.equity,
        "months_payable": report.months_payable,
        "winners": report.winners,
        "assumptions": report.assumptions,
    }
    result: dict[str, Any] = _with_yuan(body)
    return result


def _echarts() -> str:
    return ECHARTS_PATH.read_text(encoding="utf-8")


def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _pct(p: float | None, digits: int = 1) -> str:
    return "—" if p is None else f"{p:+.{digits}f}%"


def _ratio(r: float | None) -> str:
    return "—" if r is None else f"{r * 100:.1f}%"


def _money(fen: int) -> str:
    sign = "−" if fen < 0 else ""
    return f"{sign}{yuan(fen)}"


def _card(title: str, value: str, detail: str, cls: str = "") -> str:
    return (
        f'<div class="card {cls}"><div class="t">{title}</div><div class="v">{value}</div>'
        f'<div class="d">{detail}</div></div>'
    )


def _cards(r: SimulationReport) -> str:
    funds = {x["key"]: x for x in r.funds}
    oop = {x["key"]: x for x in r.oop}
    f, o = funds["fund_pay_sumamt"], oop["total"]
    che = r.che
    cards = [
        _card(
            "基金支出变化<br><small>Fund spending change</small>",
            f"{_money(f['change_fen'])} 元",
            f"{_pct(f['pct'])} · 统筹 pool {_money(funds['hifp_pay']['change_fen'])} 元",
            "up" if f["change_fen"] > 0 else "down" if f["change_fen"] < 0 else "",
        ),
        _card(
            "个人负担变化<br><small>Out-of-pocket change</small>",
            f"{_money(o['change_fen'])} 元",
            f"{_pct(o['pct'])} · 政策范围内 in scope {_money(oop['in_scope']['change_fen'])} 元",
            "good" if o["change_fen"] < 0 else "bad" if o["change_fen"] > 0 else "",
        ),
        _card(
            "灾难性卫生支出发生率<br><small>CHE incidence (households)</small>",
            f"{che['baseline']['che_rate'] * 100:.2f}% → {che['candidate']['che_rate'] * 100:.2f}%",
            f"因病致贫 impoverished {che['baseline']['impoverished_households']:,} → "
            f"{che['candidate']['impoverished_households']:,} 户 households",
        ),
    ]
    months = []
    for mp in r.months_payable:
        b, c = mp["baseline_months"], mp["candidate_months"]
        months.append(
            f'<span class="band-{mp["candidate_band"]}">{_esc(mp["scheme"])}: '
            f"{'∞' if b is None else f'{b:.1f}'} → {'∞' if c is None else f'{c:.1f}'}</span>"
        )
    cards.append(
        _card(
            "基金可支付月数<br><small>Months payable (pooled funds)</small>",
            "<br>".join(months) or "—",
            "目标 target 6–9 · 红 red &lt;3 · 过多 excessive &gt;15",
        )
    )
    return '<section class="cards">' + "".join(cards) + "</section>"


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _money_rows(items: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            f"{_esc(x['name'])}<br><small>{_esc(x['name_en'])}</small>",
            _money(x["baseline_fen"]),
            _money(x["candidate_fen"]),
            _money(x["change_fen"]),
            _pct(x["pct"]),
        ]
        for x in items
    ]


def _diff_table(r: SimulationReport) -> str:
    if not r.policy_diff:
        return "<p>两套政策参数相同。<i>The two policies have the same parameters.</i></p>"
    rows = [
        [f"<code>{_esc(d['path'])}</code>", _esc(d["baseline_display"]), _esc(d["candidate_display"])]
        for d in r.policy_diff
    ]
    return _table(["参数路径 Parameter path", "基线 Baseline", "候选 Candidate"], rows, "diff")


def _winners_table(r: SimulationReport) -> str:
    w = r.winners

    def rows(items: list[dict[str, Any]]) -> list[list[str]]:
        return [
            [
                _esc(x["scheme_label"]),
                _esc(x["age_band"]),
                _esc(x["quintile_label"]),
                f"{x['persons']:,}",
                _money(x["mean_delta_fen"]),
                _money(x["total_delta_fen"]),
                f"{x['better_off']:,}",
                f"{x['worse_off']:,}",
            ]
            for x in items
        ]

    head = [
        "险种 Scheme",
        "年龄 Age",
        "收入组 Income",
        "人数 Persons",
        "人均变化 Mean Δ (元)",
        "合计 Total Δ (元)",
        f"受益&gt;{yuan(w['threshold_fen'])}元 Better off",
        f"受损&gt;{yuan(w['threshold_fen'])}元 Worse off",
    ]
    parts = [
        f"<p>个人负担减少超过 {yuan(w['threshold_fen'])} 元：<b>{w['better_off']:,}</b> 人；增加超过 "
        f"{yuan(w['threshold_fen'])} 元：<b>{w['worse_off']:,}</b> 人；负担有变化 {w['changed']:,} 人 / 共 "
        f"{w['persons']:,} 人。单人最大减少 {yuan(w['largest_gain_fen'])} 元，最大增加 "
        f"{yuan(w['largest_loss_fen'])} 元。<br><i>Better off by more than ¥{yuan(w['threshold_fen'])}: "
        f"{w['better_off']:,}; worse off: {w['worse_off']:,}; changed: {w['changed']:,} of "
        f"{w['persons']:,} persons.</i></p>"
    ]
    parts.append("<h3>受益最多的群体 Largest mean gains (OOP falls)</h3>")
    parts.append(_table(head, rows(w["top_gainers"])) if w["top_gainers"] else "<p>—</p>")
    parts.append("<h3>负担增加最多的群体 Largest mean losses (OOP rises)</h3>")
    parts.append(_table(head, rows(w["top_losers"])) if w["top_losers"] else "<p>无 none</p>")
    return "".join(parts)


def _ratio_table(r: SimulationReport) -> str:
    rows = []
    for dim, zh, en in (("overall", "全部", "overall"), *DIMENSIONS):
        for x in r.ratios.get(dim, []):
            rows.append(
                [
                    f"{zh} <small>{en}</small>",
                    _esc(x["label"]),
                    f"{x['visits']:,}",
                    _money(x["medfee_fen"]),
                    _ratio(x["baseline_ratio"]),
                    _ratio(x["candidate_ratio"]),
                    "—" if x["change_pp"] is None else f"{x['change_pp']:+.2f}",
                ]
            )
    return _table(
        [
            "维度 Dimension",
            "组 Group",
            "人次 Visits",
            "医疗费用 Cost (元)",
            "基线 Baseline",
            "候选 Candidate",
            "变化 Δ (pp)",
        ],
        rows,
    )


def _meta(r: SimulationReport) -> str:
    m = r.meta
    b, c = m["baseline"], m["candidate"]
    period = " – ".join(m["period"]) if m.get("period") else "—"
    lines = f"{m['lines']:,}" if m.get("lines") is not None else "—"
    return (
        f"<p class=meta>基线 Baseline: <b>{_esc(b['name'])}</b> <code>{_esc(Path(b['file']).name)}</code> · "
        f"候选 Candidate: <b>{_esc(c['name'])}</b> <code>{_esc(Path(c['file']).name)}</code><br>"
        f"参保人 persons {m['persons']:,} · 家庭 households {m['households']:,} · 就诊 visits {m['visits']:,} · "
        f"明细 lines {lines} · 期间 period {_esc(period)} · 生成 generated {_esc(m['generated'])}</p>"
    )


CSS = """
:root{--b:#5470c6;--c:#ee6666;--g:#3ba272;--a:#fac858;--r:#d9363e;--x:#9a60b4}
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC",sans-serif;margin:0;
background:#f5f6f8;color:#222;line-height:1.5}
header,main,footer{max-width:1200px;margin:0 auto;padding:0 20px}
h1{margin:18px 0 4px}h1 small{font-size:.55em;color:#666;font-weight:normal}h2{margin-top:28px;
border-bottom:2px solid #dde;padding-bottom:4px}h2 small{color:#666;font-weight:normal;font-size:.7em}
.meta{color:#555;font-size:.9em}.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));
gap:12px;margin:16px 0}.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0002;
border-top:4px solid var(--b)}.card.up,.card.bad{border-top-color:var(--c)}.card.down,.card.good{border-top-color:
var(--g)}.card .t{font-size:.9em;color:#444}.card .t small{color:#888}.card .v{font-size:1.5em;font-weight:600;
margin:4px 0}.card .d{font-size:.85em;color:#666}.band-red{color:var(--r)}.band-amber{color:#b8860b}
.band-green{color:var(--g)}.band-excessive{color:var(--x)}.reading{background:#fff;border-left:4px solid var(--b);
padding:10px 16px;border-radius:4px}.reading p{margin:6px 0}.grid{display:grid;grid-template-columns:
repeat(auto-fit,minmax(520px,1fr));gap:14px}.chart{background:#fff;border-radius:8px;height:360px;
box-shadow:0 1px 3px #0002}table{border-collapse:collapse;background:#fff;width:100%;font-size:.88em;margin:8px 0}
th,td{border:1px solid #dde;padding:4px 8px;text-align:right}th{background:#eef0f6}td:first-child,th:first-child,
table.diff td{text-align:left}code{font-size:.9em}details{background:#fff;padding:8px 12px;border-radius:6px}
pre{white-space:pre-wrap;font-size:.8em}footer{color:#777;font-size:.8em;margin:30px auto}
"""

JS = r"""
(function(){
var D = JSON.parse(document.getElementById('report-data').textContent);
var CB = '#5470c6', CC = '#ee6666';
var BAND = {red:'#d9363e', amber:'#fac858', green:'#3ba272', excessive:'#9a60b4'};
var charts = [];
function yuan(f){ return f/100; }
function fmt(v){ return Number(v).toLocaleString('zh-CN', {maximumFractionDigits: 2}); }
function mk(id, opt){ var el = document.getElementById(id); if(!el) return;
  var c = echarts.init(el, null, {renderer: 'canvas'}); c.setOption(opt); charts.push(c); }
function bars(id, title, cats, b, c, fmtAxis, fmtTip){
  mk(id, {title:{text:title, left:'center', textStyle:{fontSize:14}},
    tooltip:{trigger:'axis', valueFormatter: fmtTip || fmt}, legend:{top:26, data:['基线 Baseline','候选 Candidate']},
    grid:{left:70, right:20, top:62, bottom:70, containLabel:false},
    xAxis:{type:'category', data:cats, axisLabel:{interval:0, rotate: cats.length > 5 ? 25 : 0, fontSize:11}},
    yAxis:{type:'value', axisLabel:{formatter: fmtAxis || fmt}},
    series:[{name:'基线 Baseline', type:'bar', data:b, itemStyle:{color:CB}},
            {name:'候选 Candidate', type:'bar', data:c, itemStyle:{color:CC}}]});
}
// 1. fund spending by fund
var funds = D.funds.filter(function(f){ return f.key !== 'total_with_account' &&
  (f.baseline_fen !== 0 || f.candidate_fen !== 0); });
bars('ch-funds', '各基金支出 Spending by fund (元)', funds.map(function(f){ return f.name + '\n' + f.name_en; }),
  funds.map(function(f){ return yuan(f.baseline_fen); }), funds.map(function(f){ return yuan(f.candidate_fen); }));
// 2. effective ratio per dimension
var dims = [['insutype','险种 scheme'],['hosp_lv','医院等级 hospital level'],['med_type','就诊类型 visit type'],
            ['age_band','年龄组 age band'],['quintile','收入五等分 income quintile']];
dims.forEach(function(d){ var rows = D.effective_ratio[d[0]] || [];
  bars('ch-ratio-' + d[0], '实际报销比例 Effective ratio · ' + d[1], rows.map(function(r){ return r.label; }),
    rows.map(function(r){ return r.baseline_ratio === null ? null : +(r.baseline_ratio*100).toFixed(2); }),
    rows.map(function(r){ return r.candidate_ratio === null ? null : +(r.candidate_ratio*100).toFixed(2); }),
    function(v){ return v + '%'; }, function(v){ return v === null ? '—' : v + '%'; }); });
// 3. OOP by income quintile
var q = D.oop_by_quintile;
bars('ch-oop-q', '人均个人负担（按收入五等分）OOP per person by income quintile (元)', q.map(function(r){ return r.label; }),
  q.map(function(r){ return yuan(r.baseline_per_person_fen); }), q.map(function(r){ return yuan(r.candidate_per_person_fen); }));
// 4. CHE incidence by quintile
var cq = D.che.by_quintile;
mk('ch-che', {title:{text:'灾难性卫生支出与因病致贫 CHE and impoverishment by quintile (% households)', left:'center',
    textStyle:{fontSize:14}}, tooltip:{trigger:'axis', valueFormatter:function(v){ return v + '%'; }},
  legend:{top:26}, grid:{left:60, right:20, top:62, bottom:50},
  xAxis:{type:'category', data:cq.map(function(r){ return r.label; })}, yAxis:{type:'value', axisLabel:{formatter:'{value}%'}},
  series:[
   {name:'CHE 基线 baseline', type:'bar', itemStyle:{color:CB}, data:cq.map(function(r){ return +(r.baseline_che_rate*100).toFixed(2); })},
   {name:'CHE 候选 candidate', type:'bar', itemStyle:{color:CC}, data:cq.map(function(r){ return +(r.candidate_che_rate*100).toFixed(2); })},
   {name:'致贫 impoverished 基线', type:'line', itemStyle:{color:'#91cc75'}, data:cq.map(function(r){ return +(r.baseline_impoverished_rate*100).toFixed(2); })},
   {name:'致贫 impoverished 候选', type:'line', lineStyle:{type:'dashed'}, itemStyle:{color:'#fc8452'}, data:cq.map(function(r){ return +(r.candidate_impoverished_rate*100).toFixed(2); })}]});
// 5. histogram of per-person OOP change
var h = D.winners.histogram, hc = [], hd = [];
for (var i = 0; i < h.counts.length; i++) {
  var lo = h.edges_fen[i]/100, hi = h.edges_fen[i+1]/100, mid = (lo + hi) / 2;
  hc.push(fmt(Math.round(lo)) + '…' + fmt(Math.round(hi)));
  hd.push({value:h.counts[i], itemStyle:{color: mid < 0 ? '#3ba272' : '#ee6666'}});
}
mk('ch-hist', {title:{text:'个人负担变化分布（负担有变化者）Per-person OOP change (元/年, persons with a change)', left:'center',
    textStyle:{fontSize:14}}, tooltip:{trigger:'axis'}, grid:{left:60, right:20, top:50, bottom:80},
  xAxis:{type:'category', data:hc, axisLabel:{rotate:45, fontSize:10}}, yAxis:{type:'value', name:'人数 persons'},
  series:[{type:'bar', barCategoryGap:'5%', data:hd, name:'人数 persons'}]});
// 6. months payable with bands
var mp = D.months_payable, A = D.assumptions.fund;
var top = Math.max.apply(null, mp.map(function(r){ return Math.max(r.baseline_months || 0, r.candidate_months || 0); })
  .concat([A.excessive_above_months + 3]));
function mpbar(name, key, bandKey, border){ return {name:name, type:'bar', barGap:'15%',
  data: mp.map(function(r){ return {value: r[key] === null ? null : +r[key].toFixed(2),
    itemStyle:{color: BAND[r[bandKey]], borderColor: border, borderWidth: 2}}; }),
  label:{show:true, position:'top', formatter: function(p){ return (p.seriesIndex ? '候选 ' : '基线 ') + p.value; }}}; }
var s0 = mpbar('基线 Baseline', 'baseline_months', 'baseline_band', '#333');
s0.markArea = {silent:true, data:[
  [{yAxis:0, itemStyle:{color:'rgba(217,54,62,0.08)'}, name:'红 red'}, {yAxis:A.red_below_months}],
  [{yAxis:A.red_below_months, itemStyle:{color:'rgba(250,200,88,0.12)'}, name:'黄 amber'}, {yAxis:A.amber_below_months}],
  [{yAxis:A.amber_below_months, itemStyle:{color:'rgba(59,162,114,0.08)'}, name:'合理 green'}, {yAxis:A.excessive_above_months}],
  [{yAxis:A.excessive_above_months, itemStyle:{color:'rgba(154,96,180,0.08)'}, name:'过多 excessive'}, {yAxis:top}]],
  label:{position:'insideRight', color:'#888'}};
s0.markLine = {silent:true, symbol:'none', lineStyle:{type:'dashed', color:'#3ba272'},
  data:[{yAxis:A.target_months[0]}, {yAxis:A.target_months[1]}], label:{formatter:'目标 target {c}'}};
mk('ch-months', {title:{text:'统筹基金可支付月数 Months payable by scheme', left:'center', textStyle:{fontSize:14}},
  tooltip:{trigger:'axis'}, legend:{top:26, data:['基线 Baseline','候选 Candidate']}, grid:{left:60, right:90, top:62, bottom:40},
  xAxis:{type:'category', data: mp.map(function(r){ return r.scheme + ' ' + r.name + '\n' + r.name_en; })},
  yAxis:{type:'value', name:'月 months', max: Math.ceil(top)},
  series:[s0, mpbar('候选 Candidate', 'candidate_months', 'candidate_band', '#fff')]});
window.addEventListener('resize', function(){ charts.forEach(function(c){ c.resize(); }); });
})();
"""


def render_html(report: SimulationReport) -> str:
    """The report as one HTML string (UTF-8, zh-CN first with English labels, no external references)."""
    data = json.dumps(to_json(report), ensure_ascii=False).replace("</", "<\\/")
    ratio_divs = "".join(f'<div class="chart" id="ch-ratio-{d}"></div>' for d, _, _ in DIMENSIONS)
    mp_rows = [
        [
            f"{_esc(x['scheme'])} {_esc(x['name'])}<br><small>{_esc(x['name_en'])}</small>",
            f"{x['persons']:,}",
            "—" if x["spending_per_head_fen"] is None else _money(x["spending_per_head_fen"]),
            _money(x["income_fen"]),
            _money(x["opening_fen"]),
            _money(x["baseline_expenditure_fen"]),
            _money(x["candidate_expenditure_fen"]),
            _band(x["baseline_months"], x["baseline_band"]),
            _band(x["candidate_months"], x["candidate_band"]),
        ]
        for x in report.months_payable
    ]
    che = report.che
    eq = report.equity
    ci = (
        f"<p>个人负担集中指数（按人均家庭收入排序）Concentration index of OOP by per-capita household income: "
        f"基线 baseline <b>{_fmt(eq['oop_ci_baseline'])}</b> → 候选 candidate <b>{_fmt(eq['oop_ci_candidate'])}</b>"
        f"（负值 = 负担集中于低收入者 negative = concentrated among the poor）。基金受益集中指数 Benefit "
        f"(fund payments) CI: {_fmt(eq['benefit_ci_baseline'])} → {_fmt(eq['benefit_ci_candidate'])}。</p>"
    )
    che_p = (
        f"<p>家庭 {che['households']:,} 户；生存线 subsistence line {yuan(che['subsistence_per_eq_adult_fen'])} "
        f"元/等价成人/年 per equivalent adult · 自付口径 OOP field <code>{_esc(che['oop_field'])}</code> · "
        f"自付前已低于生存线 already below subsistence before OOP: {che['poor_before_oop_households']:,} 户。"
        f"CHE 户数 households: {che['baseline']['che_households']:,} → {che['candidate']['che_households']:,}；"
        f"因病致贫 impoverished: {che['baseline']['impoverished_households']:,} → "
        f"{che['candidate']['impoverished_households']:,}。</p>"
    )
    body = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>医保政策模拟报告 · Policy what-if simulation</title>
<style>{CSS}</style></head>
<body>
<header><h1>医保政策模拟报告 <small>Medical-insurance policy what-if simulation</small></h1>{
        _meta(report)
    }</header>
<main>
{_cards(report)}
<h2>结果解读 <small>Reading</small></h2>
<div class="reading"><p>{_esc(report.narrative.get("zh", ""))}</p><p lang="en"><i>{
        _esc(report.narrative.get("en", ""))
    }</i></p></div>
<h2>政策差异 <small>Policy differences (candidate vs baseline)</small></h2>
{_diff_table(report)}
<h2>基金支出 <small>Fund expenditure</small></h2>
<div class="grid"><div class="chart" id="ch-funds"></div></div>
{
        _table(
            ["基金 Fund", "基线 Baseline (元)", "候选 Candidate (元)", "变化 Change (元)", "变化 %"],
            _money_rows(report.funds),
        )
    }
<h2>个人负担 <small>Out-of-pocket (OOP)</small></h2>
{
        _table(
            ["项目 Item", "基线 Baseline (元)", "候选 Candidate (元)", "变化 Change (元)", "变化 %"],
            _money_rows(report.oop),
        )
    }
<div class="grid"><div class="chart" id="ch-oop-q"></div><div class="chart" id="ch-hist"></div></div>
<h2>实际报销比例 <small>Effective reimbursement ratio (fund_pay_sumamt / medfee_sumamt)</small></h2>
<div class="grid">{ratio_divs}</div>
<details><summary>明细表 Table</summary>{_ratio_table(report)}</details>
<h2>灾难性卫生支出与因病致贫 <small>Catastrophic and impoverishing health spending (WHO, Xu et al. 2003)</small></h2>
{che_p}
<div class="grid"><div class="chart" id="ch-che"></div></div>
<h2>公平性 <small>Equity</small></h2>
{ci}
<h2>基金可支付月数 <small>Fund months payable</small></h2>
<div class="grid"><div class="chart" id="ch-months"></div></div>
{
        _table(
            [
                "基金 Fund",
                "参保人 Persons",
                "人均基线支出 Spending/head (元)",
                "年筹资 Income (元)",
                "期初结余 Opening (元)",
                "基线支出 Baseline spending",
                "候选支出 Candidate spending",
                "基线月数 Baseline months",
                "候选月数 Candidate months",
            ],
            mp_rows,
        )
    }
<p class="meta">期初结余与筹资为示意性假设（见 docs/SIMULATE.md）。Opening balances and income are illustrative assumptions.</p>
<h2>谁受益、谁受损 <small>Who gains and who loses</small></h2>
{_winners_table(report)}
<h2>假设 <small>Assumptions</small></h2>
<details><summary>全部参数 All parameters (JSON)</summary><pre>{
        _esc(json.dumps(report.assumptions, ensure_ascii=False, indent=1))
    }</pre></details>
</main>
<footer>由 yibao.simulate 生成 · Generated by yibao.simulate · 图表 Charts: Apache ECharts (Apache License 2.0), embedded in this file.</footer>
<script>{_echarts()}</script>
<script type="application/json" id="report-data">{data}</script>
<script>{JS}</script>
</body></html>
"""
    return body


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:+.4f}"


def _band(months: float | None, band: str) -> str:
    zh, en = BANDS[band]
    val = "∞" if months is None else f"{months:.1f}"
    return f'<span class="band-{band}">{val}<br><small>{zh} {en}</small></span>'


def write_html(report: SimulationReport, path: Path | str) -> Path:
    """Write the self-contained HTML report to ``path`` (UTF-8) and return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(report), encoding="utf-8")
    return p
