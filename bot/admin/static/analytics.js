// "Thống kê": one chart per table from GET /admin/api/analytics, drawn by Chart.js served from the
// project (offices may be offline), each with its key figures as text, its table and its CSV.
import { api, el, say } from "./common.js";

const CHART_JS = "/admin/static/vendor/chart.umd.min.js";
const FUNNEL_COUNTS = 4; // the funnel table's last columns: reached, stuck, volunteer called, stopped

let chartLibrary = null;
function loadChartJs() {
  // Once per page: a <script> element from our own origin (CSP script-src 'self'); it defines window.Chart.
  chartLibrary ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = CHART_JS;
    script.addEventListener("load", () => resolve(window.Chart));
    script.addEventListener("error", () => reject(new Error("Không tải được thư viện biểu đồ.")));
    document.head.append(script);
  });
  return chartLibrary;
}


// From/to date inputs; `load({from, to})` is called on submit, and answers with the period the
// server used (so the inputs show the default period after the first load).
export function periodPicker(prefix, load) {
  const form = el("form", "row period");
  const inputs = {};
  for (const [key, label] of [["from", "Từ ngày"], ["to", "Đến ngày"]]) {
    const field = el("div", "field");
    const input = el("input");
    input.type = "date";
    input.id = `${prefix}-${key}`;
    input.name = key;
    const caption = el("label", null, label);
    caption.htmlFor = input.id;
    field.append(caption, input);
    form.append(field);
    inputs[key] = input;
  }
  form.append(el("button", null, "Xem"));
  const run = async () => {
    const period = await load({ from: inputs.from.value, to: inputs.to.value });
    if (period) [inputs.from.value, inputs.to.value] = [period.from, period.to];
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); run(); });
  return { form, run };
}

export function query(period) {
  const params = new URLSearchParams();
  for (const key of ["from", "to"]) if (period[key]) params.set(key, period[key]);
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function table(columns, rows) {
  const wrap = el("div", "table-wrap");
  const grid = el("table");
  const head = grid.createTHead().insertRow();
  for (const name of columns) {
    const th = el("th", null, name);
    th.scope = "col";
    head.append(th);
  }
  const body = grid.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const value of row) tr.insertCell().textContent = value == null ? "—" : String(value);
  }
  wrap.append(grid);
  return wrap;
}

function figureText(label, value) {
  if (value == null) return "—";
  if (label.startsWith("Tỉ lệ")) return `${(value * 100).toFixed(1)}%`;
  return String(value);
}

// What each table becomes: Chart.js type, labels and datasets from its rows.
const DRAW = {
  conversations: (t) => ({
    type: "line",
    labels: t.rows.map((r) => shortDay(r[0])),
    datasets: t.columns.slice(1, -1).map((name, i) => ({ label: name, data: t.rows.map((r) => r[i + 1]) })),
  }),
  procedures: (t) => topBars(t),
  aspects: (t) => topBars(t),
  outcomes: (t) => ({
    type: "doughnut",
    labels: t.rows.map((r) => r[1]),
    datasets: [{ label: t.columns[2], data: t.rows.map((r) => r[2]) }],
  }),
  containment: (t) => ({
    type: "doughnut",
    labels: t.rows.map((r) => r[0]),
    datasets: [{ label: t.columns[1], data: t.rows.map((r) => r[1]) }],
  }),
  waiting: (t) => ({
    type: "line",
    labels: t.rows.map((r) => shortDay(r[0])),
    datasets: [2, 3].map((i) => ({ label: t.columns[i], data: t.rows.map((r) => r[i]), spanGaps: true })),
    fractions: true,
  }),
  ratings: (t) => ({
    type: "bar",
    labels: t.rows.map((r) => `${r[0]} sao`),
    datasets: [{ label: t.columns[1], data: t.rows.map((r) => r[1]) }],
  }),
  funnel: (t) => ({
    type: "bar",
    labels: t.rows.map((r) => clip(`${r[2]}. ${r[3]}`)),
    datasets: t.columns.slice(-FUNNEL_COUNTS).map((name, i) => ({
      label: name, data: t.rows.map((r) => r[r.length - FUNNEL_COUNTS + i]),
    })),
    horizontal: true,
  }),
};

// A top-N table (code, name, count): horizontal bars, so long Vietnamese names stay readable.
function topBars(t) {
  return {
    type: "bar",
    labels: t.rows.map((r) => r[1]),
    datasets: [{ label: t.columns[2], data: t.rows.map((r) => r[2]) }],
    horizontal: true,
  };
}

const clip = (text) => (text.length > 32 ? `${text.slice(0, 31)}…` : text); // full names are in the table
const shortDay = (iso) => `${iso.slice(8, 10)}/${iso.slice(5, 7)}`; // 2026-05-02 → 02/05

function draw(Chart, canvas, spec) {
  const counts = { beginAtZero: true, ticks: spec.fractions ? {} : { precision: 0 } };
  return new Chart(canvas, {
    type: spec.type,
    data: { labels: spec.labels, datasets: spec.datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: spec.horizontal ? "y" : "x",
      plugins: { legend: { position: "bottom" } },
      ...(spec.type === "doughnut" ? {} : { scales: { [spec.horizontal ? "x" : "y"]: counts } }),
    },
  });
}

function panel(name, title, period, figures) {
  const box = el("section", "panel chart-panel");
  box.dataset.chart = name;
  box.append(el("h3", null, title));
  const list = el("ul", "figures");
  for (const [label, value] of figures) {
    const item = el("li");
    item.append(el("span", null, `${label}: `), el("strong", null, figureText(label, value)));
    list.append(item);
  }
  box.append(list);
  const csv = el("a", "csv", "Tải CSV");
  csv.href = `/admin/api/analytics/${name}.csv${query(period)}`;
  csv.download = "";
  box.append(csv);
  return box;
}

function chartBox(box, title) {
  const holder = el("div", "chart");
  const canvas = el("canvas");
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", title);
  holder.append(canvas);
  box.append(holder);
  return canvas;
}

function details(columns, rows) {
  const more = el("details");
  more.append(el("summary", null, "Xem bảng số liệu"), table(columns, rows));
  return more;
}

export async function mount(section) {
  section.textContent = "";
  section.append(el("h2", null, "Thống kê"));
  const board = el("div", "charts");

  async function load(period) {
    let data;
    let Chart;
    try {
      [data, Chart] = await Promise.all([api("GET", `/admin/api/analytics${query(period)}`), loadChartJs()]);
    } catch (error) {
      say(error.message, true);
      return null;
    }
    board.querySelectorAll("canvas").forEach((canvas) => Chart.getChart(canvas)?.destroy());
    board.textContent = "";
    const chosen = { from: data.from, to: data.to };
    for (const [name, t] of Object.entries(data.charts)) {
      const box = panel(name, t.title, chosen, t.figures);
      board.append(box);
      if (name === "funnel") {
        funnel(box, t, Chart);
        continue;
      }
      draw(Chart, chartBox(box, t.title), DRAW[name](t));
      box.append(details(t.columns, t.rows));
    }
    return chosen;
  }

  // One bar chart at a time, for the procedure chosen in the list (most started first).
  function funnel(box, t, Chart) {
    const slugs = [...new Set(t.rows.map((r) => r[0]))];
    if (!slugs.length) {
      box.append(el("p", "muted", "Chưa có ai làm theo hướng dẫn từng bước trong kỳ này."));
      return;
    }
    const field = el("div", "field");
    const picker = el("select");
    picker.id = "funnel-procedure";
    const caption = el("label", null, "Thủ tục");
    caption.htmlFor = picker.id;
    for (const slug of slugs) {
      const option = el("option", null, t.rows.find((r) => r[0] === slug)[1]);
      option.value = slug;
      picker.append(option);
    }
    field.append(caption, picker);
    box.append(field);
    const canvas = chartBox(box, t.title);
    const tableHolder = el("div");
    box.append(tableHolder);
    const show = () => {
      const rows = t.rows.filter((r) => r[0] === picker.value);
      Chart.getChart(canvas)?.destroy();
      draw(Chart, canvas, DRAW.funnel({ ...t, rows }));
      tableHolder.replaceChildren(details(t.columns.slice(2), rows.map((r) => r.slice(2))));
    };
    picker.addEventListener("change", show);
    show();
  }

  const picker = periodPicker("analytics", load);
  section.append(picker.form, board);
  await picker.run();
}
