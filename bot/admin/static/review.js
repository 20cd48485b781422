// "Cần rà soát": procedures past their review date, longest overdue first; open one in the
// editor, or mark it reviewed today once its facts have been checked with the office.
import { api, el, say } from "./common.js";
import { OPEN_ENTRY, button } from "./editor.js";

const API = "/admin/api";
let list;
let intro;

function formatDate(iso) {
  return iso ? new Date(`${iso}T00:00:00`).toLocaleDateString("vi-VN") : "—";
}

// The editor opens the entry when it mounts (the key) or at once if it is already shown (the event).
function openInEditor(slug) {
  sessionStorage.setItem(OPEN_ENTRY, slug);
  window.dispatchEvent(new CustomEvent(OPEN_ENTRY, { detail: slug }));
  location.hash = "#knowledge";
}

async function markReviewed(item, card) {
  try {
    const { revision } = await api("GET", `${API}/entries/${encodeURIComponent(item.slug)}`);
    await api("POST", `${API}/entries/${encodeURIComponent(item.slug)}/reviewed`, { revision });
    card.remove();
    say(`Đã ghi nhận rà soát: ${item.title}`);
    if (!list.children.length) await load();
  } catch (err) {
    say(err.message, true);
  }
}

async function load() {
  const { review_after_days: days, due } = await api("GET", `${API}/review`);
  intro.textContent = due.length
    ? `Các thủ tục quá ${days} ngày chưa rà soát. Câu trả lời từ các mục này đang kèm lời nhắc xác nhận lại với cơ quan.`
    : `Không có mục nào quá ${days} ngày chưa rà soát.`;
  list.replaceChildren(...due.map((item) => {
    const card = el("li", "panel review-item");
    card.dataset.slug = item.slug;
    const actions = el("div", "row");
    actions.append(
      button("Mở", () => openInEditor(item.slug), { label: `Mở ${item.title}` }),
      button("Đã rà soát", () => markReviewed(item, card), { label: `Đã rà soát ${item.title}`, secondary: false }));
    card.append(el("h3", null, item.title),
      el("p", "muted", `Rà soát lần cuối: ${formatDate(item.reviewed_at)} · Quá hạn từ: ${formatDate(item.due_since)}`),
      actions);
    return card;
  }));
}

export async function mount(section) {
  intro = el("p", "muted");
  list = el("ul", "review-list");
  list.setAttribute("aria-label", "Các mục cần rà soát");
  section.replaceChildren(el("h2", null, "Cần rà soát"), intro, list);
  await load();
}
