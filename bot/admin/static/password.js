// Changing one's own password (every role). After an admin's reset this is the only thing the
// account may do; once changed, it goes on to its usual page.
import { api, el, say, session } from "./common.js";

const MIN_CHARS = 10;

function passwordField(id, label, autocomplete) {
  const box = el("div", "field");
  const caption = el("label", null, label);
  caption.htmlFor = id;
  const input = el("input");
  Object.assign(input, { id, type: "password", autocomplete, required: true, maxLength: 200 });
  box.append(caption, input);
  return [box, input];
}

export async function mount(section) {
  const forced = Boolean(session.me && session.me.must_change_password);
  const form = el("form", "panel password-form");
  form.noValidate = true;
  const [currentBox, current] = passwordField("current-password", forced ? "Mật khẩu tạm được cấp" : "Mật khẩu hiện tại", "current-password");
  const [newBox, fresh] = passwordField("new-password", `Mật khẩu mới (ít nhất ${MIN_CHARS} ký tự)`, "new-password");
  const [repeatBox, repeat] = passwordField("repeat-password", "Nhập lại mật khẩu mới", "new-password");
  const error = el("p", "error");
  error.setAttribute("role", "alert");
  const submit = el("button", null, "Đổi mật khẩu");
  submit.type = "submit";
  form.append(el("h2", null, "Đổi mật khẩu"));
  if (forced) form.append(el("p", "notice", "Mật khẩu của anh/chị vừa được cấp lại. Vui lòng đặt mật khẩu mới để tiếp tục."));
  form.append(currentBox, newBox, repeatBox, error, submit);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!current.value) return (error.textContent = "Anh/chị nhập mật khẩu hiện tại.");
    if (fresh.value.length < MIN_CHARS) return (error.textContent = `Mật khẩu mới cần ít nhất ${MIN_CHARS} ký tự.`);
    if (fresh.value !== repeat.value) return (error.textContent = "Hai lần nhập mật khẩu mới không giống nhau.");
    submit.disabled = true;
    try {
      await api("POST", "/admin/api/me/password", { current_password: current.value, new_password: fresh.value });
      form.reset();
      session.me.must_change_password = false;
      say("Đã đổi mật khẩu.");
      if (forced) {
        const home = ["staff", "admin"].includes(session.me.role) ? "/admin" : "/console";
        form.replaceChildren(el("p", "notice", "Đã đổi mật khẩu. Đang chuyển trang…"));
        location.assign(home);
      }
    } catch (err) {
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
    }
  });
  section.replaceChildren(form);
}
