// The knowledge editor: search every entry (procedures with their FAQ, the offices, the canned
// replies), edit it in a form generated from its JSON schema with the server's validation shown
// next to each field, preview the assistant's answer from the draft, publish, and browse the
// revisions with their diffs and one-click restore.
import { api, el, formatTime, say } from "./common.js";

const API = "/admin/api";
const CHECK_DELAY_MS = 400;
// review.js asks for an entry through this sessionStorage key and event of the same name: the
// event when the editor is already mounted, the key when it mounts after the tab switch.
export const OPEN_ENTRY = "admin:open-entry";

const KINDS = { procedure: "Thủ tục", offices: "Cơ quan tiếp nhận", canned: "Mẫu trả lời" };
const ORIGINS = { staff: "Nhân viên", file: "Tệp" };
const LABELS = {
  slug: "Mã thủ tục (slug)", title: "Tiêu đề", spoken_name: "Tên gọi khi nói", codes: "Mã thủ tục quốc gia",
  category: "Nhóm thủ tục", summary: "Tóm tắt", aliases: "Tên gọi khác", agency: "Cơ quan giải quyết",
  where: "Nơi nộp hồ sơ", online: "Dịch vụ công trực tuyến", documents: "Giấy tờ cần có", fee: "Lệ phí",
  processing_time: "Thời gian giải quyết", eligibility: "Đối tượng", before_you_start: "Chuẩn bị trước",
  steps: "Các bước", after_submission: "Sau khi nộp", legal_basis: "Căn cứ pháp lý", sources: "Nguồn",
  reviewed_at: "Ngày rà soát", confidence: "Độ tin cậy", uncertain: "Điều chưa chắc chắn",
  faq: "Câu hỏi thường gặp", not_covered: "Ngoài phạm vi", text: "Nội dung",
  confirm: "Cần xác nhận lại với cơ quan", name: "Tên", note: "Ghi chú", amounts_vnd: "Mức thu (đồng)",
  exemptions: "Miễn, giảm", online_discount: "Giảm khi nộp trực tuyến", set_by_province: "Do tỉnh quy định",
  level: "Mức độ trực tuyến", in_person_reason: "Lý do phải đến trực tiếp", instruction: "Hướng dẫn",
  tip: "Mẹo", source: "Nguồn (mã)", problems: "Vấn đề thường gặp", key: "Mã", fix: "Cách khắc phục",
  id: "Mã", questions: "Các cách hỏi", answer: "Câu trả lời", url: "Đường dẫn", copy_url: "Bản lưu",
  offices: "Cơ quan", address: "Địa chỉ", hours: "Giờ làm việc", hotline: "Đường dây nóng",
  portal_hotline: "Tổng đài Cổng dịch vụ công", replies: "Mẫu trả lời",
};
// Where a key means something else at the top of a procedure.
const PATH_LABELS = { title: "Tên thủ tục" };
// What one element of a list is called ("Thêm giấy tờ", "Xóa bước 2").
const ITEM_LABELS = {
  documents: "Giấy tờ", steps: "Bước", faq: "Câu hỏi", sources: "Nguồn", offices: "Cơ quan",
  replies: "Mẫu", problems: "Vấn đề", questions: "Cách hỏi", aliases: "Tên gọi", where: "Nơi nộp",
  codes: "Mã", legal_basis: "Căn cứ",
};
const CHOICES = {
  full: "Toàn trình", partial: "Một phần", in_person: "Phải đến trực tiếp", not_applicable: "Không áp dụng",
  high: "Cao", medium: "Trung bình", low: "Thấp",
};
const LONG_TEXT = new Set(["summary", "text", "instruction", "fix", "answer", "tip", "note", "in_person_reason"]);
// The schema's messages (pydantic's and the validators') in the page's language.
const MESSAGES = [
  [/^Field required$/, () => "Cần điền mục này."],
  [/^String should have at most (\d+) characters?$/, (n) => `Tối đa ${n} ký tự.`],
  [/^String should have at least (\d+) characters?$/, (n) => `Cần ít nhất ${n} ký tự.`],
  [/^List should have at least (\d+) items?/, (n) => `Cần ít nhất ${n} mục.`],
  [/^String should match pattern/, () => "Sai định dạng: chỉ dùng chữ thường không dấu, chữ số và dấu gạch."],
  [/^Input should be a valid integer/, () => "Cần một số nguyên."],
  [/^Input should be a valid date/, () => "Ngày không hợp lệ."],
  [/^Input should be (a valid string|'.*)/, () => "Giá trị không hợp lệ."],
  [/^Extra inputs are not permitted$/, () => "Mục này không có trong mẫu."],
  [/in_person_reason is required/, () => "Cần ghi lý do phải đến trực tiếp khi chỉ làm được một phần hoặc phải đến trực tiếp."],
  [/cites sources not listed under `sources`: (.*)$/, (ids) => `Có trích nguồn chưa khai báo trong mục Nguồn: ${ids}.`],
  [/an online procedure needs `steps`/, () => "Thủ tục làm trực tuyến cần có các bước hướng dẫn."],
  [/the slug is fixed/, () => "Không được đổi mã thủ tục."],
  [/national procedure code .* must look like/, () => "Mã thủ tục quốc gia phải có dạng 1.001193."],
  [/slug must be lower-case/, () => "Mã chỉ gồm chữ thường không dấu và dấu gạch."],
];

const ui = {};        // the page's fixed parts, built once by mount()
let entries = [];     // GET /entries
const schemas = {};   // kind → JSON schema
let current = null;   // {slug, kind, revision, draft, schema, dirty, problems}
let checkTimer = null;
let checkSeq = 0;
let ids = 0;

function fold(text) {
  return String(text ?? "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d")
    .replace(/Đ/g, "D").toLowerCase();
}

function vietnamese(message) {
  for (const [pattern, translate] of MESSAGES) {
    const match = String(message).match(pattern);
    if (match) return translate(...match.slice(1));
  }
  return message;
}


export function button(text, onClick, { label, secondary = true, disabled = false } = {}) {
  const node = el("button", secondary ? "secondary" : null, text);
  node.type = "button";
  if (label) node.setAttribute("aria-label", label);
  node.disabled = disabled;
  node.addEventListener("click", onClick);
  return node;
}

function labelled(text, control, className = "field") {
  const box = el("div", className);
  const caption = el("label", null, text);
  control.id = `editor-${++ids}`;
  caption.htmlFor = control.id;
  box.append(caption, control);
  return box;
}

const entryUrl = (slug) => `${API}/entries/${encodeURIComponent(slug)}`;
const kindOf = (slug) => entries.find((e) => e.slug === slug)?.kind
  ?? ({ _offices: "offices", _canned: "canned" }[slug] || "procedure");

// ---------- the list and its search ----------

function matches(words, text) {
  const folded = fold(text);
  return words.every((word) => folded.includes(word));
}

function renderList() {
  const words = fold(ui.search.value).split(/\s+/).filter(Boolean);
  const items = [];
  for (const entry of entries) {
    const named = matches(words, `${entry.title} ${entry.slug}`);
    const asked = words.length && !named
      ? entry.faq.flatMap((faq) => faq.questions.filter((q) => matches(words, q)).map((q) => [faq, q])) : [];
    if (!named && !asked.length) continue;
    const item = el("li", entry.slug === current?.slug ? "current" : null);
    item.dataset.slug = entry.slug;
    const open = button(null, () => openEntry(entry.slug), { secondary: false });
    open.className = "entry";
    if (entry.slug === current?.slug) open.setAttribute("aria-current", "true");
    open.append(el("span", "entry-title", entry.title),
      el("span", "muted", `${KINDS[entry.kind]} · ${entry.slug} · phiên bản ${entry.revision}`));
    if (entry.due_for_review) open.append(el("span", "badge", "Cần rà soát"));
    item.append(open);
    for (const [faq, question] of asked.slice(0, 3)) {
      const jump = button(`Câu hỏi thường gặp: ${question}`, () => openEntry(entry.slug, `faq.${entry.faq.indexOf(faq)}`),
        { secondary: false });
      jump.className = "faq-hit";
      item.append(jump);
    }
    items.push(item);
  }
  ui.list.replaceChildren(...items);
  if (!items.length) ui.list.append(el("li", "muted", "Không tìm thấy mục nào."));
}

async function loadEntries() {
  entries = (await api("GET", `${API}/entries`)).entries;
  renderList();
}

// ---------- schema → form ----------

// A schema node with its `$ref` looked up in `$defs` and `anyOf [X, null]` read as a nullable X.
function resolve(node) {
  let nullable = false;
  let schema = node;
  for (;;) {
    if (schema.anyOf) {
      const { anyOf, ...outer } = schema;
      const kinds = anyOf.filter((option) => option.type !== "null");
      nullable ||= kinds.length < anyOf.length;
      schema = { ...kinds[0], ...outer };
    } else if (schema.$ref) {
      const { $ref, ...outer } = schema;
      schema = { ...current.schema.$defs[$ref.split("/").pop()], ...outer };
    } else {
      return { schema, nullable };
    }
  }
}

function getIn(value, path) {
  return path.reduce((node, key) => (node == null ? undefined : node[key]), value);
}

// `undefined` removes a key, so that an empty required field is reported as missing.
function setIn(target, path, value) {
  let node = target;
  path.slice(0, -1).forEach((key, i) => {
    if (node[key] == null || typeof node[key] !== "object") node[key] = typeof path[i + 1] === "number" ? [] : {};
    node = node[key];
  });
  const last = path[path.length - 1];
  if (value === undefined && !Array.isArray(node)) delete node[last];
  else node[last] = value;
}

// A new element of a list: defaults where the schema has them, required text left to be filled.
function blank(node) {
  const { schema, nullable } = resolve(node);
  if ("default" in schema) return structuredClone(schema.default);
  if (nullable) return null;
  if (schema.type === "object" && schema.properties) {
    return Object.fromEntries(Object.entries(schema.properties).map(([key, child]) => [key, blank(child)])
      .filter(([, value]) => value !== undefined));
  }
  return { object: {}, array: [], boolean: false }[schema.type];
}

function labelFor(path) {
  const key = path[path.length - 1];
  return PATH_LABELS[path.join(".")] || LABELS[key] || String(key).replace(/_/g, " ");
}

function group(path, legend, className = "field group") {
  const box = el("fieldset", className);
  if (path.length) box.dataset.path = path.join(".");
  if (legend) box.append(el("legend", null, legend));
  return box;
}

function render(node, path, label) {
  const { schema, nullable } = resolve(node);
  if (schema.type === "object" && schema.properties) return objectBox(schema, path, label);
  if (schema.type === "object") return pairsBox(path, label);
  if (schema.type === "array") return listBox(schema, path, label);
  return scalarBox(schema, nullable, path, label);
}

function objectBox(schema, path, label) {
  const box = path.length ? group(path, label) : el("div", "form-root");
  for (const [key, child] of Object.entries(schema.properties)) box.append(render(child, [...path, key], labelFor([...path, key])));
  return box;
}

function scalarBox(schema, nullable, path, label) {
  const key = path[path.length - 1];
  const value = getIn(current.draft, path) ?? schema.default;
  const missing = nullable ? null : undefined;
  let control;
  let read;
  if (schema.type === "boolean") {
    control = el("input");
    control.type = "checkbox";
    control.checked = Boolean(value);
    read = () => control.checked;
  } else if (schema.enum) {
    control = el("select");
    const choices = value == null ? ["", ...schema.enum] : schema.enum;
    for (const choice of choices) {
      const option = el("option", null, choice === "" ? "— chưa chọn —" : (CHOICES[choice] || choice));
      option.value = choice;
      control.append(option);
    }
    control.value = value ?? "";
    read = () => control.value || missing;
  } else if (schema.type === "integer" || schema.type === "number") {
    control = el("input");
    control.type = "number";
    control.step = schema.type === "integer" ? "1" : "any";
    control.value = value ?? "";
    read = () => (control.value === "" ? missing : Number(control.value));
  } else {
    const text = value ?? "";
    control = el(LONG_TEXT.has(key) || text.length > 70 ? "textarea" : "input");
    if (control.tagName === "TEXTAREA") control.rows = Math.min(8, Math.ceil(text.length / 45) + 1);
    else control.type = schema.format === "date" ? "date" : "text";
    if (schema.maxLength) control.maxLength = schema.maxLength;
    control.value = text;
    control.readOnly = path.join(".") === "slug";  // an entry's slug is its identity
    // An element of a list stays in the list even when empty; elsewhere empty means "not given".
    read = () => (control.value === "" && typeof key !== "number" ? missing : control.value);
  }
  control.addEventListener(control.type === "checkbox" || control.tagName === "SELECT" ? "change" : "input",
    () => edited(path, read()));
  const box = schema.type === "boolean" ? checkbox(label, control) : labelled(label, control);
  box.dataset.path = path.join(".");
  return box;
}

function checkbox(label, control) {
  const box = labelled(label, control, "field check");
  box.prepend(control);  // the box before its label, as on paper
  return box;
}

function listBox(schema, path, label) {
  const items = getIn(current.draft, path) || [];
  const noun = ITEM_LABELS[path[path.length - 1]] || "Mục";
  const box = group(path, label, "field group list");
  const elements = el("ol", "list-items");
  items.forEach((_, i) => {
    const name = `${noun.toLowerCase()} ${i + 1}`;
    const item = el("li");
    item.append(render(schema.items, [...path, i], `${noun} ${i + 1}`));
    const tools = el("div", "row item-tools");
    tools.append(
      button("↑ Lên", () => restructure(path, (list) => list.splice(i - 1, 0, ...list.splice(i, 1)), [...path, i - 1]),
        { label: `Đưa ${name} lên`, disabled: i === 0 }),
      button("Xóa", () => restructure(path, (list) => list.splice(i, 1), path), { label: `Xóa ${name}` }));
    item.append(tools);
    elements.append(item);
  });
  box.append(elements, button(`+ Thêm ${noun.toLowerCase()}`, () => {
    const added = blank(schema.items);
    restructure(path, (list) => list.push(added === undefined ? "" : added), [...path, items.length]);
  }));
  return box;
}

// A mapping of names to whole numbers (the fee's amounts): one row of name and amount per entry.
function pairsBox(path, label) {
  const box = group(path, label, "field group pairs");
  const rows = el("div", "pair-rows");
  const sync = () => {
    const pairs = [...rows.children].map((row) => {
      const [name, amount] = row.querySelectorAll("input");
      row.dataset.path = [...path, name.value.trim()].join(".");
      return [name.value.trim(), amount.value === "" ? null : Number(amount.value)];
    });
    edited(path, Object.fromEntries(pairs.filter(([name]) => name)));
  };
  const addRow = (name, amount) => {
    const row = el("div", "field pair");
    row.dataset.path = [...path, name].join(".");
    const nameInput = el("input");
    nameInput.value = name;
    const amountInput = el("input");
    amountInput.type = "number";
    amountInput.step = "1";
    amountInput.value = amount ?? "";
    for (const input of [nameInput, amountInput]) input.addEventListener("input", sync);
    row.append(labelled("Khoản thu", nameInput, "pair-name"), labelled("Số tiền (đồng)", amountInput, "pair-amount"),
      button("Xóa", () => { row.remove(); sync(); }, { label: `Xóa khoản thu ${name}`.trim() }));
    rows.append(row);
    return nameInput;
  };
  for (const [name, amount] of Object.entries(getIn(current.draft, path) || {})) addRow(name, amount);
  box.append(rows, button("+ Thêm khoản thu", () => addRow("", null).focus()));
  return box;
}

function edited(path, value) {
  setIn(current.draft, path, value);
  markDirty(true);
  scheduleCheck();
}

// Adding, removing or moving list elements renumbers the paths below: the form is drawn again.
function restructure(path, change, focusPath) {
  const list = getIn(current.draft, path) || [];
  change(list);
  setIn(current.draft, path, list);
  markDirty(true);
  renderForm();
  const target = ui.form.querySelector(`[data-path="${CSS.escape(focusPath.join("."))}"]`);
  target?.querySelector("input, textarea, select, button")?.focus();
  scheduleCheck();
}

function renderForm() {
  ui.form.replaceChildren(render(current.schema, [], null));
  showProblems(current.problems);
}

// ---------- validation next to the fields ----------

function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(check, CHECK_DELAY_MS);
}

async function check() {
  const seq = ++checkSeq;
  const { slug } = current;
  try {
    const { problems } = await api("POST", `${entryUrl(slug)}/check`, { entry: current.draft });
    if (seq === checkSeq && slug === current.slug) showProblems(problems);
  } catch (err) {
    say(err.message, true);
  }
}

// The field a problem names, or its nearest enclosing field that the form shows.
function fieldOf(path) {
  const boxes = new Map([...ui.form.querySelectorAll("[data-path]")].map((box) => [box.dataset.path, box]));
  for (let parts = path ? path.split(".") : []; parts.length; parts.pop()) {
    const box = boxes.get(parts.join("."));
    if (box) return box;
  }
  return null;
}

function showProblems(problems) {
  current.problems = problems;
  for (const node of ui.form.querySelectorAll(".error")) node.remove();
  for (const node of ui.form.querySelectorAll(".invalid")) node.classList.remove("invalid");
  for (const node of ui.form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const elsewhere = [];
  for (const problem of problems) {
    const box = fieldOf(problem.field);
    if (!box) {
      elsewhere.push(problem);
      continue;
    }
    box.classList.add("invalid");
    const note = el("div", "error", vietnamese(problem.error));
    note.id = `editor-${++ids}`;
    const control = box.tagName === "FIELDSET" ? null : box.querySelector("input, textarea, select");
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", note.id);
    }
    const legend = box.querySelector(":scope > legend");
    if (legend) legend.after(note);
    else box.append(note);
  }
  ui.problems.replaceChildren(...elsewhere.map((p) => el("li", null, `${p.field ? `${p.field}: ` : ""}${vietnamese(p.error)}`)));
  ui.problemsBox.hidden = !elsewhere.length;
  ui.summary.textContent = problems.length ? `Còn ${problems.length} lỗi cần sửa trước khi xuất bản.` : "";
}

// ---------- open, publish ----------

function markDirty(dirty) {
  current.dirty = dirty;
  ui.dirty.hidden = !dirty;
}

function setStatus(text, isError) {
  ui.status.textContent = text;
  ui.status.className = `editor-status${isError ? " error" : ""}`;
}

async function openEntry(slug, focusPath) {
  if (current?.dirty && slug !== current.slug
      && !window.confirm("Bản đang sửa chưa được xuất bản. Bỏ các thay đổi và mở mục khác?")) return;
  const kind = kindOf(slug);
  try {
    const [{ revision, entry }, schema] = await Promise.all([
      api("GET", entryUrl(slug)),
      schemas[kind] || api("GET", `${API}/schema/${kind}`),
    ]);
    schemas[kind] = schema;
    clearTimeout(checkTimer);
    checkSeq++;  // a check still on its way belongs to the previous draft
    current = { slug, kind, revision, draft: structuredClone(entry), schema, dirty: false, problems: [] };
  } catch (err) {
    say(err.message, true);
    return;
  }
  ui.empty.hidden = true;
  ui.editor.hidden = false;
  ui.heading.textContent = entries.find((e) => e.slug === slug)?.title || slug;
  ui.kind.textContent = `${KINDS[kind]} · ${slug}`;
  showRevision();
  setStatus("");
  ui.conflict.hidden = true;
  ui.chat.replaceChildren();
  ui.preview.hidden = kind !== "procedure";  // offices and canned replies do not change answers
  markDirty(false);
  renderForm();
  renderList();
  loadHistory();
  const target = focusPath && ui.form.querySelector(`[data-path="${CSS.escape(focusPath)}"]`);
  (target || ui.heading).scrollIntoView({ block: "start" });
}

function showRevision() {
  ui.revision.textContent = `Phiên bản hiện tại: ${current.revision}`;
}

async function publish() {
  clearTimeout(checkTimer);
  ui.publish.disabled = true;
  try {
    const { revision } = await api("PUT", entryUrl(current.slug), { revision: current.revision, entry: current.draft });
    current.revision = revision;
    markDirty(false);
    showProblems([]);
    showRevision();
    setStatus(`Đã xuất bản phiên bản ${revision}.`);
    say("Đã xuất bản");
    await Promise.all([loadEntries(), loadHistory()]);
  } catch (err) {
    if (err.status === 409) {
      ui.conflictText.textContent = `Người khác vừa xuất bản mục này (phiên bản ${err.body.revision}). `
        + "Bản của anh/chị chưa được lưu; tải lại bản mới rồi sửa tiếp.";
      ui.conflict.hidden = false;
      setStatus("Chưa xuất bản: có phiên bản mới hơn.", true);
    } else if (err.status === 422) {
      showProblems([{ field: err.body.field || "", error: err.message }]);
      setStatus(`Chưa xuất bản: ${vietnamese(err.message)}`, true);
      check();  // every problem, not only the first
    } else {
      setStatus(err.message, true);
    }
  } finally {
    ui.publish.disabled = false;
  }
}

async function reload() {
  markDirty(false);  // the staff asked for the published version
  await openEntry(current.slug);
}

// ---------- preview ----------

async function preview(event) {
  event.preventDefault();
  const question = ui.question.value.trim();
  if (!question) return;
  ui.chat.replaceChildren(el("div", "bubble citizen", question), el("div", "muted", "Đang hỏi trợ lý ảo…"));
  try {
    const answer = await api("POST", `${API}/preview`, { slug: current.slug, entry: current.draft, question });
    const bubbles = answer.replies.map((reply) => {
      const bubble = el("div", "bubble bot", reply.text);
      if (reply.buttons?.length) {
        const chips = el("div", "chips");
        chips.append(...reply.buttons.map((b) => el("span", "chip", b.title)));
        bubble.append(chips);
      }
      return bubble;
    });
    ui.chat.replaceChildren(el("div", "bubble citizen", question), ...bubbles);
  } catch (err) {
    ui.chat.replaceChildren(el("div", "bubble citizen", question));
    if (err.status === 422) showProblems([{ field: err.body.field || "", error: err.message }]);
    setStatus(`Chưa xem trước được: ${vietnamese(err.message)}`, true);
  }
}

// ---------- history ----------

async function loadHistory() {
  const { slug } = current;
  let revisions;
  try {
    ({ revisions } = await api("GET", `${entryUrl(slug)}/revisions`));
  } catch (err) {
    say(err.message, true);
    return;
  }
  if (slug !== current.slug) return;
  ui.diff.hidden = true;
  ui.history.replaceChildren(...revisions.map((r, i) => {
    const item = el("li", "revision");
    item.dataset.revision = r.revision;
    const actions = el("div", "row");
    actions.append(button("Xem thay đổi", () => showDiff(r.revision), { label: `Xem thay đổi phiên bản ${r.revision}` }));
    if (i > 0) actions.append(button("Khôi phục", () => restore(r.revision), { label: `Khôi phục phiên bản ${r.revision}` }));
    item.append(el("strong", null, `Phiên bản ${r.revision}`),
      el("span", "muted", ` · ${r.author || "—"} · ${ORIGINS[r.origin] || r.origin} · ${formatTime(r.at)}`), actions);
    return item;
  }));
}

async function showDiff(revision) {
  try {
    const shown = await api("GET", `${entryUrl(current.slug)}/revisions/${revision}`);
    ui.diffTitle.textContent = `Phiên bản ${shown.revision} · ${shown.author || "—"} · ${formatTime(shown.at)}`;
    const lines = shown.diff ? shown.diff.split("\n") : ["(Phiên bản đầu tiên: không có bản trước để so sánh.)"];
    ui.diffText.replaceChildren(...lines.map((line) => {
      const changed = !line.startsWith("+++") && !line.startsWith("---");
      const kind = changed && line.startsWith("+") ? "add" : changed && line.startsWith("-") ? "del" : "same";
      return el("span", kind, line);
    }));
    ui.diff.hidden = false;
    ui.diff.scrollIntoView({ block: "nearest" });
  } catch (err) {
    say(err.message, true);
  }
}

async function restore(revision) {
  try {
    const restored = await api("POST", `${entryUrl(current.slug)}/revisions/${revision}/restore`);
    markDirty(false);
    await openEntry(current.slug);
    setStatus(`Đã khôi phục nội dung phiên bản ${revision} thành phiên bản ${restored.revision}.`);
    say("Đã khôi phục");
    await loadEntries();
  } catch (err) {
    setStatus(err.message, true);
  }
}

// ---------- the page ----------

function build(section) {
  const layout = el("div", "editor-layout");

  const side = el("aside", "editor-side panel");
  ui.search = el("input");
  ui.search.type = "search";
  ui.search.placeholder = "Tên, mã hoặc câu hỏi thường gặp";
  ui.search.addEventListener("input", renderList);
  ui.list = el("ul", "entry-list");
  ui.list.setAttribute("aria-label", "Các mục kiến thức");
  side.append(labelled("Tìm mục kiến thức", ui.search), ui.list);

  const main = el("div", "editor-main");
  ui.empty = el("p", "muted panel", "Chọn một mục trong danh sách để sửa.");
  ui.editor = el("div");
  ui.editor.hidden = true;

  const head = el("div", "panel editor-head");
  ui.heading = el("h2");
  ui.kind = el("p", "muted");
  ui.revision = el("p", "editor-revision");
  ui.dirty = el("p", "muted", "Có thay đổi chưa xuất bản.");
  ui.status = el("p", "editor-status");
  ui.status.setAttribute("role", "status");
  ui.conflict = el("div", "notice");
  ui.conflict.setAttribute("role", "alert");
  ui.conflictText = el("span");
  ui.conflict.append(ui.conflictText, button("Tải bản mới", reload));
  ui.summary = el("p", "muted");
  ui.publish = button("Xuất bản", publish, { secondary: false });
  const actions = el("div", "row");
  actions.append(ui.publish);
  head.append(ui.heading, ui.kind, ui.revision, ui.dirty, actions, ui.status, ui.conflict, ui.summary);

  ui.problemsBox = el("div", "notice");
  ui.problemsBox.setAttribute("role", "alert");
  ui.problems = el("ul");
  ui.problemsBox.append(el("p", null, "Lỗi chưa gắn được với ô nào:"), ui.problems);
  ui.problemsBox.hidden = true;

  ui.form = el("form", "panel entry-form");
  ui.form.setAttribute("aria-label", "Nội dung mục kiến thức");
  ui.form.noValidate = true;  // the server's schema is the one judge; it speaks Vietnamese here
  ui.form.addEventListener("submit", (event) => event.preventDefault());

  ui.preview = el("form", "panel preview");
  ui.preview.setAttribute("aria-label", "Xem trước câu trả lời");
  ui.question = el("input");
  ui.question.maxLength = 1000;
  ui.question.placeholder = "Ví dụ: làm thủ tục này hết bao nhiêu tiền?";
  const ask = el("button", null, "Xem trước");
  ask.type = "submit";
  ui.chat = el("div", "preview-chat");
  ui.chat.setAttribute("role", "log");
  ui.chat.setAttribute("aria-label", "Câu trả lời xem trước");
  const askRow = el("div", "row");
  askRow.append(labelled("Câu hỏi của người dân", ui.question, "field grow"), ask);
  ui.preview.append(el("h3", null, "Xem trước câu trả lời"),
    el("p", "muted", "Trợ lý ảo trả lời theo bản đang sửa, chưa xuất bản."), askRow, ui.chat);
  ui.preview.addEventListener("submit", preview);

  const history = el("section", "panel history");
  history.setAttribute("aria-label", "Lịch sử");
  ui.history = el("ol", "revisions");
  ui.history.setAttribute("aria-label", "Các phiên bản, mới nhất trước");
  ui.diff = el("div", "diff-view");
  ui.diff.hidden = true;
  ui.diffTitle = el("h4");
  ui.diffText = el("pre", "diff");
  ui.diffText.setAttribute("aria-label", "Thay đổi");
  ui.diff.append(ui.diffTitle, ui.diffText);
  history.append(el("h3", null, "Lịch sử"), ui.history, ui.diff);

  ui.editor.append(head, ui.problemsBox, ui.form, ui.preview, history);
  main.append(ui.empty, ui.editor);
  layout.append(side, main);
  section.replaceChildren(layout);
}

function openRequested() {
  const slug = sessionStorage.getItem(OPEN_ENTRY);
  sessionStorage.removeItem(OPEN_ENTRY);
  if (slug) openEntry(slug);
}

export async function mount(section) {
  build(section);
  await loadEntries();
  window.addEventListener(OPEN_ENTRY, openRequested);
  openRequested();
}
