// The audit log (admin): every knowledge and account change, newest first, paged with "Xem thêm".
import { api, el, formatTime, say } from "./common.js";
import { ROLES } from "./accounts.js";

const PAGE = 50;
const ACTIONS = {
  "knowledge.publish": "Xuất bản kiến thức",
  "knowledge.restore": "Khôi phục phiên bản",
  "knowledge.reviewed": "Đánh dấu đã rà soát",
  "knowledge.import": "Nhập từ tệp",
  "inbox.decide": "Xử lý câu hỏi chưa trả lời",
  "inbox.draft_published": "Xuất bản câu hỏi nháp",
  "inbox.draft_dismissed": "Bỏ câu hỏi nháp",
  "account.create": "Tạo tài khoản",
  "account.disable": "Khóa tài khoản",
  "account.enable": "Mở khóa tài khoản",
  "account.reset_password": "Đặt lại mật khẩu",
  "account.role": "Đổi vai trò",
  "account.telegram": "Gắn Telegram",
  "account.password_changed": "Tự đổi mật khẩu",
};
const DETAIL_NAMES = { revision: "phiên bản", role: "vai trò", previous: "trước đó", telegram_user_id: "Telegram",
  must_change_password: "phải đổi mật khẩu" };

function describe(detail) {
  return Object.entries(detail || {}).map(([key, value]) => {
    const shown = value === null ? "không" : value === true ? "có" : value === false ? "không" : ROLES[value] || value;
    return `${DETAIL_NAMES[key] || key}: ${shown}`;
  }).join(" · ");
}

function row(entry) {
  const tr = el("tr");
  tr.dataset.action = entry.action;
  tr.append(el("td", null, formatTime(entry.at)), el("td", null, entry.actor),
    el("td", null, ACTIONS[entry.action] || entry.action), el("td", null, entry.target),
    el("td", "audit-detail", describe(entry.detail)));
  return tr;
}

export async function mount(section) {
  const body = el("tbody");
  const head = el("tr");
  for (const title of ["Thời gian", "Người thực hiện", "Việc", "Đối tượng", "Chi tiết"]) head.append(el("th", null, title));
  const table = el("table", "audit-table");
  table.append(el("thead"), body);
  table.tHead.append(head);
  const wrap = el("div", "table-wrap");
  wrap.append(table);
  const more = el("button", "secondary audit-more", "Xem thêm");
  more.type = "button";
  const empty = el("p", "muted", "Chưa có thay đổi nào.");
  empty.hidden = true;
  let oldest = null;

  async function load() {
    more.disabled = true;
    try {
      const query = new URLSearchParams({ limit: PAGE });
      if (oldest) query.set("before", oldest);
      const { entries } = await api("GET", `/admin/api/audit?${query}`);
      body.append(...entries.map(row));
      if (entries.length) oldest = entries[entries.length - 1].id;
      more.hidden = entries.length < PAGE;
      empty.hidden = body.children.length > 0;
    } catch (err) {
      say(err.message, true);
    } finally {
      more.disabled = false;
    }
  }

  more.addEventListener("click", load);
  const reload = el("button", "secondary", "Tải lại");
  reload.type = "button";
  reload.addEventListener("click", () => { body.replaceChildren(); oldest = null; load(); });
  const header = el("div", "row");
  header.append(el("h2", null, "Nhật ký thay đổi"), reload);
  section.replaceChildren(header, el("p", "muted", "Ai đã sửa kiến thức hoặc tài khoản, sửa gì và khi nào."), empty, wrap, more);
  await load();
}
