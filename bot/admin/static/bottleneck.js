// "Báo cáo điểm nghẽn": procedures ranked by how many citizens got stuck, each with where, why and
// examples (already masked by the server), and the Word document to send to the steering committee.
import { api, el, say } from "./common.js";
import { periodPicker, query, table } from "./analytics.js";

function part(box, title, content) {
  box.append(el("h4", null, title), content);
}

function details(found) {
  const box = el("div");
  if (found.steps.length) {
    part(box, "Bị kẹt ở bước nào", table(["Bước", "Tên bước", "Bị kẹt", "Gọi tình nguyện viên", "Dừng lại"],
      found.steps.map((s) => [s.step, s.title, s.stuck, s.volunteer_called, s.stopped])));
  }
  if (found.problems.length) {
    part(box, "Vấn đề người dân chọn", table(["Bước", "Vấn đề", "Số lượt"],
      found.problems.map((p) => [p.step, p.title, p.count])));
  }
  if (found.reasons.length) {
    part(box, "Lý do chuyển tình nguyện viên",
      table(["Lý do", "Số lượt"], found.reasons.map((r) => [r.label, r.count])));
  }
  const office = found.in_person;
  if (office.guide || office.referred) {
    const text = el("p", null, `Được báo phải làm trực tiếp: ${office.guide} lượt; `
      + `tình nguyện viên hướng dẫn đến cơ quan: ${office.referred} lượt.`
      + (office.reason ? ` Lý do theo quy định: ${office.reason}` : ""));
    part(box, "Phải đến cơ quan", text);
  }
  if (found.questions.count) {
    const list = el("ul", "examples");
    for (const text of found.questions.examples) list.append(el("li", null, text));
    const wrap = el("div");
    wrap.append(el("p", null, `${found.questions.count} câu hỏi. Ví dụ:`), list);
    part(box, "Câu hỏi trợ lý ảo chưa trả lời được", wrap);
  }
  if (found.waiting.count) {
    part(box, "Thời gian chờ tình nguyện viên", el("p", null,
      `${found.waiting.count} yêu cầu được nhận; trung vị ${found.waiting.median} phút, `
      + `P90 ${found.waiting.p90} phút.`));
  }
  return box;
}

function item(found, rank) {
  const box = el("details", "panel bottleneck-item");
  box.dataset.slug = found.slug;
  box.append(el("summary", null, `${rank ? `${rank}. ` : ""}${found.title} — ${found.stuck} người bị kẹt, `
    + `${found.handoffs} lượt chuyển tình nguyện viên, ${found.unanswered} câu chưa trả lời được`));
  box.append(details(found));
  return box;
}

export async function mount(section) {
  section.textContent = "";
  section.append(el("h2", null, "Báo cáo điểm nghẽn"));
  const actions = el("p", "report-actions");
  const download = el("a", "button", "Tải báo cáo (Word)");
  download.id = "bottleneck-download";
  download.download = "";
  actions.append(download);
  const body = el("div");

  async function load(period) {
    let data;
    try {
      data = await api("GET", `/admin/api/bottleneck${query(period)}`);
    } catch (error) {
      say(error.message, true);
      return null;
    }
    const chosen = { from: data.from, to: data.to };
    download.href = `/admin/api/bottleneck.docx${query(chosen)}`;
    body.textContent = "";
    body.append(el("p", "muted", `Kỳ báo cáo: ${data.period}. ${data.method}`));
    if (!data.procedures.length) {
      body.append(el("p", "notice", "Không có số liệu trong kỳ này."));
      return chosen;
    }
    const summary = el("section", "panel");
    summary.append(el("h3", null, "Tổng hợp theo thủ tục"), table(data.summary.columns, data.summary.rows));
    body.append(summary);
    data.procedures.forEach((found, i) => body.append(item(found, i + 1)));
    if (data.unassigned.handoffs || data.unassigned.unanswered) body.append(item(data.unassigned, 0));
    return chosen;
  }

  const picker = periodPicker("bottleneck", load);
  section.append(picker.form, actions, body);
  await picker.run();
}
