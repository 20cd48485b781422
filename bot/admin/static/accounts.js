// Accounts (admin): list, add, disable/enable, reset a password, change a role, link a Telegram id.
// A temporary password is shown once, here, and never again.
import { api, el, formatTime, say, session } from "./common.js";

export const ROLES = { volunteer: "Tình nguyện viên", staff: "Cán bộ", admin: "Quản trị viên" };


function field(id, label, control, hint) {
  const box = el("div", "field");
  const caption = el("label", null, label);
  caption.htmlFor = id;
  control.id = id;
  box.append(caption, control);
  if (hint) box.append(el("div", "muted", hint));
  return box;
}

function input(attributes) {
  const node = el("input");
  Object.assign(node, attributes);
  return node;
}

function roleSelect(selected) {
  const select = el("select");
  for (const [value, label] of Object.entries(ROLES)) {
    const option = el("option", null, label);
    option.value = value;
    option.selected = value === selected;
    select.append(option);
  }
  return select;
}

// The temporary password, once, with how to pass it on.
function showTemporary(box, account, password) {
  box.replaceChildren();
  box.hidden = false;
  const code = el("code", "temporary-password", password);
  const copy = el("button", "secondary", "Sao chép");
  copy.type = "button";
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(password);
      say("Đã sao chép mật khẩu tạm.");
    } catch {
      getSelection().selectAllChildren(code);  // no clipboard (plain http): select it for Ctrl+C
      say("Mật khẩu đã được chọn; anh/chị nhấn Ctrl+C (hoặc giữ để sao chép).");
    }
  });
  const line = el("p", "row");
  line.append(el("span", null, `Mật khẩu tạm của ${account.display_name} (${account.username}): `), code, copy);
  box.append(line, el("p", "muted",
    "Mật khẩu này chỉ hiện một lần. Hãy sao chép và gửi riêng cho người dùng; họ sẽ phải đổi mật khẩu khi đăng nhập."));
}

export async function mount(section) {
  section.replaceChildren();
  const temporary = el("div", "notice temporary");
  temporary.hidden = true;
  temporary.setAttribute("role", "status");
  const list = el("div", "account-list");

  // -- add form ---------------------------------------------------------------------------
  const form = el("form", "panel account-form");
  form.noValidate = true;
  const username = input({ name: "username", required: true, autocomplete: "off", maxLength: 64, pattern: "[A-Za-z0-9][A-Za-z0-9._\\-]{2,63}" });
  const displayName = input({ name: "display_name", required: true, maxLength: 80 });
  const role = roleSelect("volunteer");
  const telegram = input({ name: "telegram_user_id", inputMode: "numeric", maxLength: 20, pattern: "[0-9]{1,20}" });
  const error = el("p", "error");
  error.setAttribute("role", "alert");
  const submit = el("button", null, "Tạo tài khoản");
  submit.type = "submit";
  form.append(el("h2", null, "Thêm tài khoản"),
    field("new-account-username", "Tên đăng nhập", username, "Chữ không dấu, số, dấu chấm, gạch; 3–64 ký tự."),
    field("new-account-name", "Tên hiển thị", displayName, "Người dân thấy tên này, ví dụ: Lan."),
    field("new-account-role", "Vai trò", role),
    field("new-account-telegram", "Mã Telegram (không bắt buộc)", telegram, "Mã số người dùng Telegram, để nhận việc qua Telegram."),
    error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!form.checkValidity()) {
      error.textContent = "Anh/chị kiểm tra lại tên đăng nhập, tên hiển thị và mã Telegram.";
      return;
    }
    submit.disabled = true;
    try {
      const created = await api("POST", "/admin/api/accounts", {
        username: username.value.trim(), display_name: displayName.value.trim(), role: role.value,
        telegram_user_id: telegram.value.trim() || null,
      });
      form.reset();
      showTemporary(temporary, created.account, created.temporary_password);
      say(`Đã tạo tài khoản ${created.account.username}.`);
      await refresh();
    } catch (err) {
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });

  // -- one account --------------------------------------------------------------------------
  async function act(path, body, done) {
    try {
      const result = await api("POST", path, body);
      if (result.temporary_password) showTemporary(temporary, result.account, result.temporary_password);
      say(done);
      await refresh();
    } catch (err) {
      say(err.message, true);
    }
  }

  function card(account) {
    const item = el("article", `panel account${account.active ? "" : " disabled"}`);
    item.dataset.username = account.username;
    const title = el("h3", null, `${account.display_name} `);
    title.append(el("span", "muted", `(${account.username})`));
    const facts = el("p", "muted");
    const state = account.active ? (account.online ? "Đang trực" : "Đang hoạt động") : "Đã khóa";
    facts.textContent = [
      ROLES[account.role] || account.role, state,
      account.must_change_password ? "Chờ đổi mật khẩu" : null,
      account.last_seen_at ? `Lần cuối: ${formatTime(account.last_seen_at)}` : "Chưa đăng nhập",
    ].filter(Boolean).join(" · ");
    item.append(title, facts);

    const base = `/admin/api/accounts/${account.id}`;
    const roleRow = el("div", "row");
    const roleChoice = roleSelect(account.role);
    roleChoice.setAttribute("aria-label", `Vai trò của ${account.username}`);
    const roleButton = el("button", "secondary change-role", "Đổi vai trò");
    roleButton.type = "button";
    roleButton.addEventListener("click", () => act(`${base}/role`, { role: roleChoice.value },
      `Đã đổi vai trò của ${account.username}.`));
    roleRow.append(roleChoice, roleButton);

    const telegramRow = el("div", "row");
    const telegramId = input({ value: account.telegram_user_id || "", inputMode: "numeric", maxLength: 20, placeholder: "Mã Telegram" });
    telegramId.setAttribute("aria-label", `Mã Telegram của ${account.username}`);
    const link = el("button", "secondary link-telegram", "Gắn Telegram");
    link.type = "button";
    link.addEventListener("click", () => {
      const value = telegramId.value.trim();
      if (value && !/^[0-9]{1,20}$/.test(value)) return say("Mã Telegram chỉ gồm chữ số.", true);
      act(`${base}/telegram`, { telegram_user_id: value || null },
        value ? `Đã gắn Telegram cho ${account.username}.` : `Đã bỏ gắn Telegram của ${account.username}.`);
    });
    telegramRow.append(telegramId, link);

    const actions = el("div", "row");
    const reset = el("button", "secondary reset-password", "Đặt lại mật khẩu");
    reset.type = "button";
    reset.addEventListener("click", () => {
      if (confirm(`Đặt lại mật khẩu của ${account.username}? Người này sẽ bị đăng xuất.`)) {
        act(`${base}/reset-password`, {}, `Đã đặt lại mật khẩu của ${account.username}.`);
      }
    });
    const toggle = el("button", account.active ? "danger disable" : "secondary enable", account.active ? "Khóa" : "Mở khóa");
    toggle.type = "button";
    toggle.addEventListener("click", () => {
      if (account.active && !confirm(`Khóa tài khoản ${account.username}? Người này sẽ bị đăng xuất.`)) return;
      act(`${base}/${account.active ? "disable" : "enable"}`, {},
        account.active ? `Đã khóa ${account.username}.` : `Đã mở khóa ${account.username}.`);
    });
    const isMe = session.me && session.me.id === account.id;
    toggle.disabled = isMe;  // the server refuses it too; no point offering it
    actions.append(reset, toggle);
    item.append(roleRow, telegramRow, actions);
    return item;
  }

  async function refresh() {
    const { accounts } = await api("GET", "/admin/api/accounts");
    list.replaceChildren(...accounts.map(card));
  }

  section.append(el("h2", null, "Tài khoản"), temporary, form, list);
  await refresh();
}
