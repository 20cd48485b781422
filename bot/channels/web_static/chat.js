"use strict";
// The web chat. The conversation's id is issued by the server and kept in an HttpOnly cookie (the
// credential, which the stream sends by itself); the page holds it in memory only, for POST /api/chat.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("text");

  let sender = null;
  let stream = null;

  // The conversation in the cookie when there is one (a reload, another tab), else a new one.
  async function openConversation() {
    const kept = await fetch("/api/chat/session");
    if (kept.ok) return { id: (await kept.json()).sender_id, fresh: false };
    const opened = await fetch("/api/chat/session", {
      method: "POST", headers: { "content-type": "application/json" }, body: "{}",
    });
    if (!opened.ok) throw new Error("session " + opened.status);
    return { id: (await opened.json()).sender_id, fresh: true };
  }

  // While the conversation waits for a volunteer, a lasting line says so, with a way to stop
  // waiting: the server's own cancel button (an opaque key) is reused.
  const waiting = document.getElementById("waiting");
  const CANCEL_TITLE = "Thôi, hỏi trợ lý ảo";
  const WAITING_TEXT = waiting.querySelector("span").textContent;
  let cancelPayload = null;
  document.getElementById("cancel-wait").addEventListener("click", () => {
    if (cancelPayload) send(cancelPayload, CANCEL_TITLE);
  });
  function showWaiting(on) {
    waiting.hidden = !on;
    document.getElementById("cancel-wait").hidden = !cancelPayload;
  }

  function show(text, who) {
    const bubble = document.createElement("div");
    bubble.className = "msg " + who;
    bubble.textContent = text;
    log.appendChild(bubble);
    log.scrollTop = log.scrollHeight;
  }

  function showReply(reply, who) {
    for (const b of reply.buttons || []) if (b.title === CANCEL_TITLE) cancelPayload = b.payload;
    if (reply.text) show(reply.text, who);
    if (reply.buttons && reply.buttons.length) {
      const row = document.createElement("div");
      row.className = "buttons";
      for (const b of reply.buttons) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = b.title;
        button.addEventListener("click", () => {
          row.querySelectorAll("button").forEach((x) => (x.disabled = true));
          send(b.payload, b.title);
        });
        row.appendChild(button);
      }
      log.appendChild(row);
      log.scrollTop = log.scrollHeight;
    }
  }

  // One message at a time, in the order typed: the next waits for the previous one's answer.
  let sending = Promise.resolve();
  function send(text, shown) {
    show(shown || text, "citizen");
    sending = sending.then(() => post(text));
  }

  async function post(text) {
    try {
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sender_id: sender, text: text }),
      });
      const body = await response.json();
      if (body.replies) {
        body.replies.forEach((r) => showReply(r, "bot"));
        if (response.ok) showWaiting(body.about && body.about.outcome === "handoff");
      } else show("Dạ, tin nhắn chưa gửi được: " + (body.error || response.status), "error");
    } catch (err) {
      show("Dạ, không kết nối được máy chủ. Anh/chị vui lòng thử lại.", "error");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });

  // Messages that arrive later: a volunteer's reply, an answer to a question left earlier. Each
  // comes with its id; the server sends again whatever was not acknowledged (after a reconnect),
  // so a message already shown is only acknowledged again, never shown twice.
  let shownIds = new Set();
  function acknowledge(id) {
    fetch("/api/chat/ack", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ids: [id] }),
    }).catch(() => { /* sent again on the next connection, acknowledged then */ });
  }

  function listen() {
    stream = new EventSource("/api/chat/stream");
    stream.addEventListener("message", (event) => {
      const id = Number(event.lastEventId);
      if (shownIds.has(id)) return acknowledge(id);
      shownIds.add(id);
      const reply = JSON.parse(event.data);
      showReply(reply, reply.author === "volunteer" ? "volunteer" : "bot");
      acknowledge(id);
      if (reply.author === "volunteer") {
        waiting.querySelector("span").textContent = "Tình nguyện viên đang hỗ trợ anh/chị";
        document.getElementById("cancel-wait").hidden = true;
      }
    });
  }

  async function start() {
    try {
      const conversation = await openConversation();
      sender = conversation.id;
      listen();
      if (conversation.fresh) send("xin chào", "Xin chào");
    } catch (err) {
      show("Dạ, không kết nối được máy chủ. Anh/chị vui lòng tải lại trang.", "error");
    }
  }

  // "Kết thúc trò chuyện" on a shared device (a kiosk): the server closes the conversation and
  // cancels any wait for a volunteer; the page forgets it and starts afresh for the next person.
  document.getElementById("end-chat").addEventListener("click", async () => {
    if (stream) stream.close();
    try {
      await fetch("/api/chat/end", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    } catch (err) { /* the cookie may outlive an unreachable server; the page still forgets */ }
    sender = null;
    cancelPayload = null;
    shownIds = new Set();
    log.replaceChildren();
    waiting.querySelector("span").textContent = WAITING_TEXT;
    showWaiting(false);
    start();
  });

  start();
})();
