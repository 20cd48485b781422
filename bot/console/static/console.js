"use strict";
// Volunteer console: queue, live chat with a citizen, hand-back to the bot.
// Server data is only ever written with textContent (never innerHTML) to rule out XSS.
(function () {
  const $ = (id) => document.getElementById(id);
  const AUTHORS = { citizen: "Người dân", bot: "Trợ lý ảo", volunteer: "Tình nguyện viên", system: "Hệ thống" };
  const CHANNELS = { web: "Web", zalo: "Zalo", telegram: "Telegram" };
  const MEDIA_LINK = { photo: "Mở ảnh", document: "Mở tệp", voice: "Nghe ghi âm", video: "Xem video", sticker: "Xem nhãn dán" };
  const STATUSES = { queued: "Đang chờ", claimed: "Đang hỗ trợ", handed_back: "Đã trả cho trợ lý ảo", closed: "Đã kết thúc", cancelled: "Đã huỷ" };
  // Only a hint while typing; the server makes the real decision (409 needs_confirm).
  const RISKY = /mật khẩu|mat khau|otp|mã xác thực|ma xac thuc|số cccd|so cccd|căn cước|cmnd/i;
  const wide = window.matchMedia("(min-width: 1100px)");

  let me = null;          // the /me object; null when logged out
  let csrf = "";
  let openId = null;      // id of the handoff shown in the chat column
  let openSeq = 0;        // guards against a slow fetch overwriting a newer one
  let pendingText = null; // draft held back by the server's warning
  let stream = null;
  let volunteers = [];
  const unread = new Set(); // handoff ids with citizen messages not yet seen

  let current = null;      // the open handoff object (D)
  let sending = false;     // blocks double taps on "Gửi" while a reply is in flight

  let statusTimer = null;
  function say(text, isError) {
    const line = $("status");
    line.textContent = text || "";
    line.className = isError ? "error" : "";
    clearTimeout(statusTimer);
    // Errors stay until the next action; confirmations fade so they are not mistaken for new news.
    if (text && !isError) statusTimer = setTimeout(() => (line.textContent = ""), 5000);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  // One fetch wrapper: JSON in/out, CSRF on POST, any 401 sends the user to the login form.
  async function api(path, body) {
    const opts = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = csrf;
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch("/console/api/" + path, opts);
    } catch (err) {
      say("Không kết nối được máy chủ. Vui lòng thử lại.", true);
      return null;
    }
    let data = {};
    try { data = await res.json(); } catch (err) { /* empty or non-JSON body */ }
    if (res.status === 401 && path !== "login") { showLogin(); return null; }
    // After an admin's reset the account must choose its own password first (the admin page's form).
    if (res.status === 403 && data && data.must_change_password) { window.location.assign("/admin#password"); return null; }
    return { ok: res.ok, status: res.status, data: data || {} };
  }

  const errorText = (r) => (r.data && r.data.error) || "Có lỗi xảy ra (mã " + r.status + "). Vui lòng thử lại.";

  // POST an action; show the server's error in the status line. Returns the response only on success.
  async function act(path, body) {
    const r = await api(path, body);
    if (r && !r.ok) say(errorText(r), true);
    return r && r.ok ? r : null;
  }

  function fmtWait(s) {
    const m = Math.floor((Number(s) || 0) / 60);
    if (m < 1) return "dưới 1 phút";
    if (m < 60) return m + " phút";
    return Math.floor(m / 60) + " giờ " + (m % 60) + " phút";
  }

  function fmtTime(at) {
    if (at == null || at === "") return "";
    const d = new Date(typeof at === "number" && at < 1e12 ? at * 1000 : at);
    return isNaN(d) ? "" : d.toLocaleTimeString("vi-VN", { hour: "2-digit", minute: "2-digit" });
  }

  function fillSelect(select, options, keep) {
    const previous = keep ? select.value : null;
    select.replaceChildren(...options.map(([value, label]) => {
      const o = el("option", null, label);
      o.value = value;
      return o;
    }));
    if (previous !== null && options.some(([v]) => v === previous)) select.value = previous;
  }

  // ---- login / session ----
  function showLogin() {
    me = null;
    openId = null;
    if (stream) { stream.close(); stream = null; }
    $("app").hidden = true;
    $("me-bar").hidden = true;
    $("login-view").hidden = false;
    $("username").focus();
  }

  function startApp(data) {
    me = data;
    csrf = data.csrf || "";
    $("login-view").hidden = true;
    $("app").hidden = false;
    $("me-bar").hidden = false;
    $("me-name").textContent = data.name || "";
    $("report-link").hidden = !(data.role === "staff" || data.role === "admin");
    setOnline(!!data.online);
    fillSelect($("close-outcome"), (data.outcomes || []).map((o) => [o.key, o.label]));
    showCanned(data.canned);
    connect();
    refreshQueue();
  }

  function showCanned(canned) {
    fillSelect($("canned"), [["", "Chèn mẫu trả lời…"]].concat((canned || []).map((c, i) => [String(i), c.title])));
    $("canned").hidden = !(canned || []).length;
  }

  // Staff edited the canned replies: take the new ones without a reload.
  async function refreshCanned() {
    const r = await api("me");
    if (!r || !r.ok || !me) return;
    me.canned = r.data.canned || [];
    showCanned(me.canned);
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    const r = await api("login", { username: $("username").value.trim(), password: $("password").value });
    if (!r) return;
    if (!r.ok) { $("login-error").textContent = (r.data && r.data.error) || "Đăng nhập không thành công."; return; }
    $("password").value = "";
    startApp(r.data);
  });

  $("logout").addEventListener("click", async () => {
    await api("logout", {});
    say("Đã đăng xuất.");
    showLogin();
  });

  function setOnline(online) {
    const b = $("online-toggle");
    b.textContent = online ? "Đang trực" : "Nghỉ";
    b.setAttribute("aria-pressed", String(online));
    b.classList.toggle("on", online);
  }

  $("online-toggle").addEventListener("click", async () => {
    const wanted = $("online-toggle").getAttribute("aria-pressed") !== "true";
    const r = await act("status", { online: wanted });
    if (r) setOnline(!!r.data.online);
  });

  // ---- queue ----
  function handoffItem(h, className) {
    const li = el("li", className);
    li.dataset.id = h.id;
    const head = el("div", "item-head");
    head.appendChild(el("strong", null, h.reason_label || "Cần hỗ trợ"));
    if (h.left_question) head.appendChild(el("span", "badge", "Để lại câu hỏi"));
    if (unread.has(String(h.id))) head.appendChild(el("span", "badge new", "Tin mới"));
    li.appendChild(head);
    if (h.preview) li.appendChild(el("p", "preview", h.preview));
    const meta = [CHANNELS[h.channel] || h.channel, "chờ " + fmtWait(h.waiting_s)];
    if (h.procedure_title) meta.push(h.procedure_title);
    if (h.volunteer_name) meta.push(h.volunteer_name);
    li.appendChild(el("p", "meta", meta.filter(Boolean).join(" · ")));
    return li;
  }

  function renderList(ul, items, emptyText, build) {
    ul.replaceChildren(...items.map(build));
    if (!items.length) ul.appendChild(el("li", "empty", emptyText));
  }

  async function refreshQueue() {
    const r = await api("queue");
    if (!r) return;
    if (!r.ok) { say(errorText(r), true); return; }
    const q = r.data;
    renderList($("queue"), q.queued || [], "Chưa có ai đang chờ.", (h) => {
      const li = handoffItem(h, "queue-item");
      const b = el("button", "claim", "Nhận hỗ trợ");
      b.type = "button";
      b.addEventListener("click", () => claim(h.id, b));
      li.appendChild(b);
      return li;
    });
    renderList($("mine"), q.mine || [], "Bạn chưa nhận cuộc nào.", (h) => {
      const li = handoffItem(h, "mine-item" + (String(h.id) === String(openId) ? " current" : ""));
      li.tabIndex = 0;
      li.setAttribute("role", "button");
      li.addEventListener("click", () => openHandoff(h.id));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openHandoff(h.id); } });
      return li;
    });
    volunteers = q.volunteers || [];
    const others = volunteers.filter((v) => v.online && String(v.id) !== String(me && me.id));
    fillSelect($("transfer-to"), others.length ? others.map((v) => [String(v.id), v.name]) : [["", "Không có ai khác đang trực"]], true);
    $("btn-transfer").disabled = !others.length || isReadOnly();
    const waiting = (q.queued || []).length;
    document.title = (waiting ? "(" + waiting + ") " : "") + "Bàn trực hỗ trợ";
  }

  async function claim(id, button) {
    button.disabled = true;
    const r = await api("handoffs/" + id + "/claim", {});
    if (r && r.ok) {
      say("Bạn đã nhận hỗ trợ.");
      showHandoff(r.data.handoff);
    } else if (r) {
      say(errorText(r), true); // 409: someone else was faster
    }
    refreshQueue();
  }

  // ---- one handoff ----
  function isReadOnly() {
    return !current || current.status !== "claimed" || (current.volunteer && me && String(current.volunteer.id) !== String(me.id));
  }

  async function openHandoff(id) {
    const seq = ++openSeq;
    const r = await api("handoffs/" + id);
    if (!r || seq !== openSeq) return;
    if (!r.ok) { say(errorText(r), true); return; }
    showHandoff(r.data.handoff);
  }

  function closeHandoff() { // only hides the view; the handoff itself stays as it is
    openId = null;
    current = null;
    pendingText = null;
    $("handoff-view").hidden = true;
    document.querySelectorAll("#mine .current").forEach((li) => li.classList.remove("current"));
  }

  function showHandoff(d) {
    const switched = String(d.id) !== String(openId);
    openId = d.id;
    current = d;
    unread.delete(String(d.id));
    $("handoff-view").hidden = false;
    $("hv-title").textContent = d.reason_label || "Cần hỗ trợ";
    $("hv-meta").textContent = [CHANNELS[d.channel] || d.channel, STATUSES[d.status] || d.status, d.volunteer && d.volunteer.name].filter(Boolean).join(" · ");
    $("channel-window").hidden = !d.channel_window;
    $("channel-window").textContent = d.channel_window || "";
    const ro = isReadOnly();
    $("hv-readonly").hidden = !ro;
    $("hv-readonly").textContent = ro ? "Cuộc hỗ trợ này không còn do bạn phụ trách, chỉ xem được." : "";
    document.querySelectorAll("#reply-form *, .actions button, .actions select").forEach((n) => (n.disabled = ro));
    $("btn-transfer").disabled = ro || !$("transfer-to").value;
    renderPacket(d);
    renderMessages(d.messages || []);
    renderNotes(d.notes || []);
    if (switched) {
      // A new conversation starts with an empty composer and the packet open where there is room.
      $("reply-text").value = "";
      $("note-text").value = "";
      $("faq-draft-form").hidden = true;
      hideWarning();
      updateHint();
      $("packet").open = wide.matches;
      $("handoff-view").scrollIntoView({ block: "start" }); // on phones the lists sit below
    }
    document.querySelectorAll("#mine .mine-item").forEach((li) => li.classList.toggle("current", li.dataset.id === String(d.id)));
  }

  function renderPacket(d) {
    const body = $("packet-body");
    body.replaceChildren();
    const dl = el("dl");
    const row = (k, v) => { if (v) { dl.appendChild(el("dt", null, k)); dl.appendChild(el("dd", null, v)); } };
    const p = d.procedure;
    const steps = (p && p.steps) || [];
    row("Lý do", d.reason_label);
    row("Thủ tục", p && p.title);
    if (d.guide_step != null) {
      const step = steps.find((s) => Number(s.number) === Number(d.guide_step));
      row("Đang ở", "Bước " + d.guide_step + (steps.length ? "/" + steps.length : "") + (step ? ": " + step.title : ""));
    }
    body.appendChild(dl);
    const transcript = (d.packet && d.packet.transcript) || [];
    if (transcript.length) {
      body.appendChild(el("h4", null, "Trò chuyện với trợ lý ảo"));
      const ol = el("ol", "transcript");
      transcript.forEach((t) => {
        const li = el("li");
        li.appendChild(el("b", null, (AUTHORS[t.author] || t.author) + ": "));
        li.appendChild(document.createTextNode(t.text || ""));
        ol.appendChild(li);
      });
      body.appendChild(ol);
    }
    // Hand-back target defaults to where the citizen was in the guide.
    fillSelect($("hand-back-step"), [["", "Không tiếp tục hướng dẫn"]].concat(steps.map((s) => [String(s.number), "Bước " + s.number + ": " + s.title])));
    $("hand-back-step").value = d.guide_step == null ? "" : String(d.guide_step);
    if ($("hand-back-step").selectedIndex < 0) $("hand-back-step").value = "";
  }

  function addMessage(m) {
    const log = $("chat-log");
    if (m.id != null && log.querySelector('[data-id="' + CSS.escape(String(m.id)) + '"]')) return;
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    const author = AUTHORS[m.author] ? m.author : "system";
    const div = el("div", "msg " + author, m.text || "");
    if (m.id != null) div.dataset.id = m.id;
    // The time is drawn by CSS from data-time so the bubble's text stays exactly the message.
    div.dataset.time = fmtTime(m.at);
    div.title = AUTHORS[author];
    if (m.media && m.media.url) {
      // Opened on demand, in its own tab: it may show an ID paper, which should not sit on screen.
      const link = el("a", "media-link", MEDIA_LINK[m.media.kind] || "Mở tệp");
      link.href = m.media.url;
      link.target = "_blank";
      link.rel = "noopener";
      div.appendChild(el("br"));
      div.appendChild(link);
    }
    if (m.author === "volunteer" && !isReadOnly()) {
      div.appendChild(el("br"));
      const propose = el("button", "link faq-draft", "Gửi làm câu hỏi thường gặp");
      propose.type = "button";
      propose.addEventListener("click", () => openFaqDraft(div, m.text || ""));
      div.appendChild(propose);
    }
    log.appendChild(div);
    if (nearBottom || m.author === "volunteer") log.scrollTop = log.scrollHeight;
  }

  function renderMessages(messages) {
    $("chat-log").replaceChildren();
    messages.forEach(addMessage);
    $("chat-log").scrollTop = $("chat-log").scrollHeight;
  }

  function renderNotes(notes) {
    renderList($("notes"), notes, "Chưa có ghi chú.", (n) => {
      const li = el("li");
      li.appendChild(el("span", "note-meta", [n.author, fmtTime(n.at)].filter(Boolean).join(" · ")));
      li.appendChild(el("p", null, n.text));
      return li;
    });
  }

  // ---- a reply proposed to staff as a FAQ entry ----
  function openFaqDraft(bubble, answer) {
    let asked = bubble.previousElementSibling;
    while (asked && !asked.classList.contains("citizen")) asked = asked.previousElementSibling;
    $("faq-question").value = asked && asked.firstChild ? asked.firstChild.textContent : "";
    $("faq-answer").value = answer;
    $("faq-draft-form").hidden = false;
    $("faq-question").focus();
  }

  $("faq-draft-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!openId) return;
    const body = { question: $("faq-question").value.trim(), answer: $("faq-answer").value.trim() };
    if (!body.question || !body.answer) { say("Vui lòng nhập câu hỏi và câu trả lời.", true); return; }
    const r = await act("handoffs/" + openId + "/faq-draft", body);
    if (!r) return;
    $("faq-draft-form").hidden = true;
    say("Đã gửi cho cán bộ xem xét làm câu hỏi thường gặp.");
  });
  $("faq-draft-cancel").addEventListener("click", () => { $("faq-draft-form").hidden = true; });

  // ---- composer ----
  function updateHint() {
    $("draft-hint").hidden = !RISKY.test($("reply-text").value);
  }

  function hideWarning() {
    pendingText = null;
    $("draft-warning").hidden = true;
  }

  async function sendReply(text, confirm) {
    if (!openId || !text || sending) return;
    const id = openId;
    sending = true;
    const r = await api("handoffs/" + id + "/messages", { text: text, confirm: confirm });
    sending = false;
    if (!r) return;
    if (r.status === 409 && r.data.needs_confirm) {
      pendingText = text;
      $("draft-warning-text").textContent = r.data.warning || "Tin nhắn có vẻ hỏi thông tin bí mật của người dân.";
      $("draft-warning").hidden = false;
      $("draft-send-anyway").focus();
      return;
    }
    if (!r.ok) { say(errorText(r), true); return; }
    hideWarning();
    if (String(id) === String(openId)) {
      $("reply-text").value = "";
      updateHint();
      if (r.data.message) addMessage(r.data.message);
    }
  }

  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    hideWarning();
    sendReply($("reply-text").value.trim(), false);
  });
  // Ctrl/Cmd+Enter sends on a keyboard; plain Enter stays a newline (phones have no Ctrl).
  $("reply-text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $("reply-form").requestSubmit(); }
  });
  // Once the draft changes, the server's warning no longer describes it; it is re-checked on send.
  $("reply-text").addEventListener("input", () => { updateHint(); hideWarning(); });
  $("draft-edit").addEventListener("click", () => { hideWarning(); $("reply-text").focus(); });
  $("draft-send-anyway").addEventListener("click", () => { if (pendingText) sendReply(pendingText, true); });

  $("canned").addEventListener("change", () => {
    const value = $("canned").value;
    $("canned").value = "";
    const c = value !== "" && me && (me.canned || [])[Number(value)];
    if (!c) return;
    const box = $("reply-text");
    box.value = box.value ? box.value.replace(/\s*$/, "\n") + c.text : c.text;
    updateHint();
    box.focus();
  });

  $("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text || !openId) return;
    const r = await act("handoffs/" + openId + "/notes", { text: text });
    if (!r) return;
    $("note-text").value = "";
    if (r.data.note && current) {
      current.notes = (current.notes || []).concat([r.data.note]);
      renderNotes(current.notes);
    }
  });

  // ---- actions that end my part in the conversation ----
  async function finish(path, body, done) {
    if (!openId) return;
    const r = await act("handoffs/" + openId + "/" + path, body);
    if (!r) return;
    say(done);
    closeHandoff();
    refreshQueue();
  }

  $("btn-release").addEventListener("click", () => finish("release", {}, "Đã trả lại hàng chờ."));
  $("btn-transfer").addEventListener("click", () => {
    const v = volunteers.find((x) => String(x.id) === $("transfer-to").value);
    if (!v) { say("Vui lòng chọn người nhận.", true); return; }
    finish("transfer", { volunteer_id: v.id }, "Đã chuyển cho " + v.name + ".");
  });
  $("btn-hand-back").addEventListener("click", () => {
    const step = $("hand-back-step").value;
    finish("hand-back", { step: step === "" ? null : Number(step) }, "Đã trả cho trợ lý ảo.");
  });
  $("btn-close").addEventListener("click", () => {
    const outcome = $("close-outcome").value;
    if (!outcome) { say("Vui lòng chọn kết quả.", true); return; }
    finish("close", { outcome: outcome }, "Đã kết thúc cuộc hỗ trợ.");
  });
  $("hv-close").addEventListener("click", closeHandoff);

  // ---- live updates ----
  function refetchAll() {
    refreshQueue();
    refreshCanned();
    if (openId) openHandoff(openId);
  }

  function connect() {
    if (stream) stream.close();
    const es = new EventSource("/console/api/events");
    stream = es;
    // Fires on the first connect and on every automatic reconnect: catch up on what was missed.
    es.addEventListener("open", refetchAll);
    es.addEventListener("queue", () => refreshQueue());
    es.addEventListener("canned", refreshCanned);
    es.addEventListener("message", (e) => {
      const d = JSON.parse(e.data);
      if (!d.message) return;
      if (String(d.handoff_id) === String(openId)) addMessage(d.message);
      else if (d.message.author === "citizen") {
        unread.add(String(d.handoff_id));
        const li = document.querySelector('#mine .mine-item[data-id="' + CSS.escape(String(d.handoff_id)) + '"]');
        if (li && !li.querySelector(".new")) li.querySelector(".item-head").appendChild(el("span", "badge new", "Tin mới"));
      }
    });
    es.addEventListener("handoff", (e) => {
      const d = JSON.parse(e.data);
      refreshQueue();
      if (String(d.handoff_id) === String(openId)) openHandoff(openId);
    });
    es.addEventListener("error", () => {
      // CLOSED means the browser gave up (e.g. session expired): ask /me whether to log in again.
      if (es.readyState === EventSource.CLOSED && stream === es) {
        stream = null;
        setTimeout(() => { if (me && !stream) boot(); }, 5000);
      }
    });
  }

  async function boot() {
    const r = await api("me");
    if (!r) return;
    if (r.ok) startApp(r.data);
    else say(errorText(r), true);
  }

  // Waiting times drift between events; a slow poll keeps them honest, covers missed events
  // and restarts the event stream if it was given up (e.g. the server was down for a while).
  setInterval(() => {
    if (!me || document.hidden) return;
    if (stream) refreshQueue();
    else boot();
  }, 30000);
  boot();
})();
