// Import and export (staff): spreadsheet and YAML downloads; an upload is first previewed
// ("Xem trước": what would change per entry, or every bad row and column), then applied ("Nhập")
// in one go, only as previewed (the server refuses if an entry changed in between).
import { api, el, say } from "./common.js";

const MAX_BYTES = 5 * 1024 * 1024;
const EXPORTS = [
  ["/admin/api/export.xlsx", "Bảng tính Excel (.xlsx)"],
  ["/admin/api/export.csv", "Bảng tính CSV (.csv)"],
  ["/admin/api/export.zip", "Tệp YAML (.zip)"],
];
const COLUMNS = [
  ["slug", "mã thủ tục (phải có sẵn)"],
  ["kind", "faq (câu hỏi thường gặp) hoặc document (giấy tờ)"],
  ["id", "faq: mã câu hỏi (chữ thường, số, dấu -); document: số thứ tự, có thể để trống"],
  ["questions", "faq: các cách hỏi, mỗi dòng một câu, ít nhất 2"],
  ["text", "faq: câu trả lời; document: tên giấy tờ"],
  ["note", "document: ghi chú"],
  ["confirm", "document: yes hoặc no (cần xác nhận với cơ quan)"],
  ["source", "faq: mã nguồn trong mục sources của thủ tục"],
];


function button(text, className) {
  const node = el("button", className, text);
  node.type = "button";
  return node;
}

function downloads() {
  const panel = el("div", "panel");
  const links = el("div", "row downloads");
  for (const [href, label] of EXPORTS) {
    const link = el("a", "download", label);
    link.href = href;
    link.download = "";
    links.append(link);
  }
  panel.append(el("h3", null, "Tải xuống"), links,
    el("p", "muted", "Bảng tính: mỗi dòng là một câu hỏi thường gặp hoặc một giấy tờ của một thủ tục. "
      + "Tệp YAML: toàn bộ kiến thức theo thư mục knowledge/ (procedures/, offices.yaml, canned_replies.yaml)."));
  return panel;
}

function columnHelp() {
  const details = el("details", "columns");
  details.append(el("summary", null, "Các cột của bảng tính"));
  const list = el("ul");
  for (const [key, text] of COLUMNS) {
    const item = el("li");
    item.append(el("code", null, key), document.createTextNode(`: ${text}`));
    list.append(item);
  }
  details.append(list, el("p", "muted", "Với mỗi thủ tục có trong tệp, danh sách câu hỏi và danh sách giấy tờ "
    + "được thay bằng đúng các dòng trong tệp, theo thứ tự dòng. Loại nào của thủ tục không có dòng nào "
    + "trong tệp thì giữ nguyên."));
  return details;
}

function diffBlock(text) {
  const pre = el("pre", "diff");
  for (const line of text.split("\n")) {
    const kind = line.startsWith("+") && !line.startsWith("+++") ? " add"
      : line.startsWith("-") && !line.startsWith("---") ? " del" : "";
    pre.append(el("span", `line${kind}`, line));
  }
  return pre;
}

function changeBlock(change) {
  const box = el("div", "change");
  box.dataset.slug = change.slug;
  const title = change.new_revision
    ? `${change.slug}: đã xuất bản phiên bản ${change.new_revision}`
    : `${change.slug} (phiên bản hiện tại ${change.revision})`;
  const lines = el("ul");
  for (const line of change.summary) lines.append(el("li", null, line));
  const details = el("details");
  details.append(el("summary", null, "Xem khác biệt"), diffBlock(change.diff));
  box.append(el("h4", null, title), lines, details);
  return box;
}

function errorTable(errors) {
  const withFiles = errors.some((e) => e.file);
  const head = el("tr");
  for (const title of [...(withFiles ? ["Tệp"] : []), "Dòng", "Cột", "Lỗi"]) {
    head.append(el("th", null, title));
  }
  const body = el("tbody");
  for (const error of errors) {
    const tr = el("tr");
    if (withFiles) tr.append(el("td", null, error.file || ""));
    tr.append(el("td", null, error.row ?? ""), el("td", null, error.column ?? ""), el("td", null, error.error));
    body.append(tr);
  }
  const table = el("table", "errors");
  table.append(el("thead"), body);
  table.tHead.append(head);
  const wrap = el("div", "table-wrap");
  wrap.append(table);
  return wrap;
}

function showResult(box, result, applied) {
  box.replaceChildren();
  const count = result.changes.length;
  const headline = applied
    ? (count ? `Đã nhập: ${count} mục được xuất bản.` : "Không có gì thay đổi.")
    : (count ? `Nếu nhập, ${count} mục sẽ thay đổi:` : "Tệp giống hệt nội dung hiện tại: không có gì thay đổi.");
  box.append(el("p", count ? "notice" : "muted", headline));
  if (result.unchanged.length) box.append(el("p", "muted", `Không đổi: ${result.unchanged.join(", ")}.`));
  box.append(...result.changes.map(changeBlock));
}

function showRefusal(box, err) {
  box.replaceChildren(el("p", "error", err.message));
  if (err.body.errors && err.body.errors.length) box.append(errorTable(err.body.errors));
}

export async function mount(section) {
  section.classList.add("transfer");
  const fileInput = el("input");
  fileInput.type = "file";
  fileInput.id = "transfer-file";
  fileInput.accept = ".csv,.xlsx,.yaml,.yml,.zip";
  const label = el("label", null, "Tệp cần nhập (.csv, .xlsx, .yaml hoặc .zip, tối đa 5 MB)");
  label.htmlFor = fileInput.id;
  const field = el("div", "field");
  field.append(label, fileInput);
  const previewButton = button("Xem trước", "secondary");
  const applyButton = button("Nhập");
  applyButton.disabled = true;
  const actions = el("div", "row transfer-actions");
  actions.append(previewButton, applyButton);
  const result = el("div", "result");
  result.setAttribute("aria-live", "polite");
  let previewed = null;  // {file, revisions} of the last dry run that had changes

  function chosen() {
    const file = fileInput.files[0];
    if (!file) say("Anh/chị chọn một tệp trước.", true);
    else if (file.size > MAX_BYTES) say("Tệp quá lớn (tối đa 5 MB).", true);
    else return file;
    return null;
  }

  async function send(file, dryRun, revisions) {
    const form = new FormData();
    form.append("file", file);
    if (revisions) form.append("revisions", JSON.stringify(revisions));
    return api("POST", `/admin/api/import?dry_run=${dryRun}`, form);
  }

  fileInput.addEventListener("change", () => {
    previewed = null;
    applyButton.disabled = true;
    result.replaceChildren();
  });

  previewButton.addEventListener("click", async () => {
    const file = chosen();
    if (!file) return;
    previewButton.disabled = applyButton.disabled = true;
    previewed = null;
    try {
      const preview = await send(file, true);
      showResult(result, preview, false);
      if (preview.changes.length) {
        previewed = { file, revisions: Object.fromEntries(preview.changes.map((c) => [c.slug, c.revision])) };
        applyButton.disabled = false;
      }
    } catch (err) {
      showRefusal(result, err);
    } finally {
      previewButton.disabled = false;
    }
  });

  applyButton.addEventListener("click", async () => {
    if (!previewed) return;
    previewButton.disabled = applyButton.disabled = true;
    try {
      const done = await send(previewed.file, false, previewed.revisions);
      showResult(result, done, true);
      say("Đã nhập xong.");
    } catch (err) {
      showRefusal(result, err);
    } finally {
      previewed = null;
      previewButton.disabled = false;
    }
  });

  const form = el("div", "panel");
  form.append(el("h3", null, "Nhập từ tệp"),
    el("p", "muted", "Bấm «Xem trước» để xem những gì sẽ thay đổi; chưa có gì được ghi cho đến khi bấm «Nhập». "
      + "Nếu tệp có dòng sai, không có gì được nhập."),
    columnHelp(), field, actions, result);
  section.replaceChildren(el("h2", null, "Xuất và nhập kiến thức"), downloads(), form);
}
