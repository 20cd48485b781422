// Unanswered questions: groups of similar citizen questions the assistant could not answer well,
// each turned into knowledge (alias, FAQ) or set aside; and the FAQ drafts volunteers sent.
import { api, el, formatTime, say } from "./common.js";

const REASONS = {
  decline: "Trợ lý ảo từ chối",
  clarify: "Không xác định được thủ tục",
  low_confidence: "Trả lời khi chưa chắc chắn",
  repeated_fallback: "Không hiểu, chuyển tình nguyện viên",
};
const AUTHORS = { citizen: "Người dân", bot: "Trợ lý ảo", volunteer: "Tình nguyện viên", system: "Hệ thống" };
const PERIODS = [[7, "7 ngày qua"], [30, "30 ngày qua"], [90, "90 ngày qua"], [365, "12 tháng qua"]];
const ACTIONS = {
  alias: "Thêm làm tên gọi khác",
  faq_variant: "Thêm vào câu hỏi thường gặp",
  faq_new: "Tạo câu hỏi thường gặp mới",
};

let procedures = []; // [{slug, title, faq: [{id, questions}]}] from GET /admin/api/entries
let view = null;     // {groups, drafts, conversation, days}


function options(select, pairs, selected) {
  select.replaceChildren(...pairs.map(([value, label]) => {
    const option = el("option", null, label);
    option.value = value;
    return option;
  }));
  if (selected != null && pairs.some(([value]) => value === selected)) select.value = selected;
}

function field(label, control) {
  const wrap = el("div", "field");
  const name = el("label", null, label);
  control.id = `inbox-${Math.random().toString(36).slice(2)}`;
  name.htmlFor = control.id;
  wrap.append(name, control);
  return wrap;
}

async function loadProcedures() {
  const data = await api("GET", "/admin/api/entries");
  procedures = data.entries.filter((e) => e.kind === "procedure");
}

// The form that adds a question to a procedure: `action` is alias, faq_variant or faq_new.
// `onSave(fields)` sends it; the form stays open with the server's message when it is refused.
function knowledgeForm(action, preset, onSave, onCancel) {
  const form = el("form", "inbox-form panel");
  form.dataset.action = action;
  form.append(el("h4", null, ACTIONS[action]));
  const question = el("input");
  question.name = "question";
  question.maxLength = 500;
  question.required = true;
  question.value = preset.question || "";
  const procedure = el("select");
  procedure.name = "slug";
  options(procedure, [["", "Chọn thủ tục…"], ...procedures.map((p) => [p.slug, p.title])], preset.slug || "");
  form.append(field(action === "faq_new" ? "Câu hỏi của người dân" : "Câu hỏi", question), field("Thủ tục", procedure));

  const faq = el("select");
  faq.name = "faq_id";
  const phrasing = el("input");
  phrasing.name = "phrasing";
  phrasing.maxLength = 500;
  const answer = el("textarea");
  answer.name = "answer";
  answer.rows = 4;
  answer.maxLength = 4000;
  answer.value = preset.answer || "";
  const source = el("select");
  source.name = "source";
  if (action === "faq_variant") form.append(field("Câu hỏi thường gặp", faq));
  if (action === "faq_new") {
    phrasing.required = answer.required = true;
    form.append(field("Một cách hỏi khác", phrasing), field("Câu trả lời", answer), field("Nguồn", source));
  }

  async function procedureChosen() {
    const chosen = procedures.find((p) => p.slug === procedure.value);
    options(faq, ((chosen && chosen.faq) || []).map((f) => [f.id, f.questions[0]]));
    if (action === "faq_new" && chosen) {
      const { entry } = await api("GET", `/admin/api/entries/${encodeURIComponent(chosen.slug)}`);
      options(source, entry.sources.map((s) => [s.id, s.title ? `${s.id} — ${s.title}` : s.id]));
    }
  }
  procedure.addEventListener("change", () => procedureChosen().catch((err) => say(err.message, true)));
  procedureChosen().catch((err) => say(err.message, true));

  const error = el("p", "error");
  error.setAttribute("role", "alert");
  const save = el("button", null, "Lưu và áp dụng ngay");
  save.type = "submit";
  const cancel = el("button", "secondary", "Huỷ");
  cancel.type = "button";
  cancel.addEventListener("click", onCancel);
  const buttons = el("div", "row");
  buttons.append(save, cancel);
  form.append(error, buttons);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!procedure.value) { error.textContent = "Anh/chị chọn thủ tục."; return; }
    const fields = { slug: procedure.value, question: question.value.trim() };
    if (action === "faq_variant") fields.faq_id = faq.value;
    if (action === "faq_new") Object.assign(fields, { phrasing: phrasing.value.trim(), answer: answer.value.trim(), source: source.value });
    save.disabled = true;
    try {
      await onSave(fields);
    } catch (err) {
      error.textContent = err.message;
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function button(text, className, onClick) {
  const b = el("button", className, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

async function showConversation(id) {
  const panel = view.conversation;
  const data = await api("GET", `/admin/api/conversations/${id}`);
  const list = el("ol", "inbox-transcript");
  for (const m of data.messages) {
    const item = el("li", `msg-${m.author}`);
    item.append(el("b", null, `${AUTHORS[m.author] || m.author} · ${formatTime(m.at)}: `), document.createTextNode(m.text));
    list.append(item);
  }
  const close = button("Đóng", "secondary", () => { panel.hidden = true; });
  panel.replaceChildren(el("h3", null, `Cuộc trò chuyện #${id}`), list, close);
  panel.hidden = false;
  panel.scrollIntoView({ block: "start" });
}

async function decide(group, action, fields) {
  await api("POST", "/admin/api/inbox/decide", { message_ids: group.message_ids, action, ...fields });
  say(action in ACTIONS ? "Đã cập nhật kiến thức, trợ lý ảo trả lời theo nội dung mới ngay." : "Đã xử lý câu hỏi.");
  if (action in ACTIONS) await loadProcedures();
  await refresh();
}

function groupCard(group) {
  const card = el("article", "panel inbox-group");
  card.append(el("p", "inbox-text", group.text));
  const meta = [`${group.count} lần`, `gần nhất ${formatTime(group.newest_at)}`];
  card.append(el("p", "muted", meta.join(" · ")));
  const reasons = el("p", "inbox-reasons");
  for (const r of group.reasons) reasons.append(el("span", "badge", REASONS[r] || r));
  card.append(reasons);
  if (group.suggestion) card.append(el("p", "muted", `Gợi ý thủ tục: ${group.suggestion.title}`));

  const examples = el("ul", "inbox-examples");
  for (const example of group.examples) {
    const item = el("li");
    item.append(el("span", null, `${example.text} `),
      button("Xem cuộc trò chuyện", "link", () => showConversation(example.conversation_id).catch((err) => say(err.message, true))));
    examples.append(item);
  }
  card.append(examples);

  const slot = el("div");
  const actions = el("div", "row inbox-actions");
  for (const [action, label] of Object.entries(ACTIONS)) {
    actions.append(button(label, "secondary", () => {
      const preset = { question: group.text, slug: group.suggestion ? group.suggestion.slug : "" };
      slot.replaceChildren(knowledgeForm(action, preset, (fields) => decide(group, action, fields), () => slot.replaceChildren()));
    }));
  }
  const setAside = (action, text) => button(text, "secondary", () => decide(group, action, {}).catch((err) => say(err.message, true)));
  actions.append(setAside("out_of_scope", "Ngoài phạm vi"), setAside("ignore", "Bỏ qua"));
  card.append(actions, slot);
  return card;
}

function draftCard(draft) {
  const card = el("article", "panel inbox-draft");
  card.append(el("p", "inbox-text", draft.question), el("p", "inbox-answer", draft.answer));
  const meta = [draft.volunteer, formatTime(draft.created_at), draft.title].filter(Boolean).join(" · ");
  card.append(el("p", "muted", meta));
  const slot = el("div");
  const actions = el("div", "row inbox-actions");
  const publishAs = (action) => button(ACTIONS[action], "secondary", () => {
    const save = async (fields) => {
      await api("POST", `/admin/api/inbox/drafts/${draft.id}/publish`, { action, ...fields });
      say("Đã đăng câu hỏi thường gặp.");
      await loadProcedures();
      await refresh();
    };
    slot.replaceChildren(knowledgeForm(action, draft, save, () => slot.replaceChildren()));
  });
  actions.append(publishAs("faq_new"), publishAs("faq_variant"));
  if (draft.conversation_id) {
    actions.append(button("Xem cuộc trò chuyện", "link", () => showConversation(draft.conversation_id).catch((err) => say(err.message, true))));
  }
  actions.append(button("Bỏ bản nháp", "secondary", async () => {
    try {
      await api("POST", `/admin/api/inbox/drafts/${draft.id}/dismiss`);
      say("Đã bỏ bản nháp.");
      await refresh();
    } catch (err) {
      say(err.message, true);
    }
  }));
  card.append(actions, slot);
  return card;
}

async function refresh() {
  const [inbox, drafts] = await Promise.all([
    api("GET", `/admin/api/inbox?days=${view.days.value}`),
    api("GET", "/admin/api/inbox/drafts"),
  ]);
  view.groups.replaceChildren(...inbox.groups.map(groupCard));
  if (!inbox.groups.length) view.groups.append(el("p", "muted", "Không có câu hỏi nào chưa xử lý trong khoảng này."));
  view.drafts.replaceChildren(...drafts.drafts.map(draftCard));
  if (!drafts.drafts.length) view.drafts.append(el("p", "muted", "Chưa có bản nháp nào."));
}

export async function mount(section) {
  const days = el("select");
  options(days, PERIODS.map(([value, label]) => [String(value), label]), "90");
  days.addEventListener("change", () => refresh().catch((err) => say(err.message, true)));
  const head = el("div", "row");
  head.append(el("h2", null, "Câu hỏi chưa trả lời"), field("Khoảng thời gian", days));
  const conversation = el("section", "panel inbox-conversation");
  conversation.hidden = true;
  view = { days, conversation, groups: el("div", "inbox-groups"), drafts: el("div", "inbox-drafts") };
  view.groups.append(el("p", "muted", "Đang tải…"));
  section.replaceChildren(head,
    el("p", "muted", "Những câu người dân hỏi mà trợ lý ảo từ chối, chưa xác định được thủ tục, trả lời khi chưa chắc chắn hoặc không hiểu — gom theo câu giống nhau."),
    conversation, view.groups, el("h3", null, "Bản nháp từ tình nguyện viên"), view.drafts);
  await loadProcedures();
  await refresh();
}
